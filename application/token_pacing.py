"""A reply's token pieces grouped before they enter the conversation's feed (PRODUCT.md, "Live conversations").

The first piece goes out as soon as it exists; later pieces wait until `interval` has passed since the last
token event and leave merged, so a reply writes at most about 1/`interval` token events a second however fast
the model streams. Any other event (the end, an error) first flushes the pieces before it. The concatenation
of the pieces is unchanged, so it still equals the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress

from application.events import StreamEvent, TokenProduced

_SLICE = 0.002  # seconds the reader may hold the event loop before it lets other tasks run


async def paced(
    events: AsyncGenerator[StreamEvent, None],
    interval: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[StreamEvent, None]:
    """The events of `events`, token pieces merged to at most one token event per `interval`.

    Iterate it inside `contextlib.aclosing`: closing it cancels the reading task, which closes `events`."""
    queue: deque[StreamEvent] = deque()
    others = 0  # events in `queue` that are not tokens
    ready = asyncio.Event()  # something is in `queue`, or the events ended
    urgent = asyncio.Event()  # an event that must not wait for the interval (not a token), or the end
    ended = False
    failure: BaseException | None = None

    async def pull() -> None:
        nonlocal ended, failure, others
        slice_started = monotonic()
        try:
            async with aclosing(events):
                async for event in events:
                    queue.append(event)
                    if not isinstance(event, TokenProduced):
                        others += 1
                        urgent.set()
                    ready.set()
                    # A model stream whose pieces are already buffered would otherwise be read to its end in
                    # one step of the event loop, holding every other turn's first token back that long; yielding
                    # after every piece instead cost a pass of the loop per piece (150 an answer) under load.
                    if monotonic() - slice_started >= _SLICE:
                        await asyncio.sleep(0)
                        slice_started = monotonic()
        except Exception as error:  # handed to the consumer after the events before it
            failure = error
        finally:
            ended = True
            urgent.set()
            ready.set()

    reader = asyncio.create_task(pull())
    last_token = -float("inf")
    try:
        while True:
            if not queue:
                if ended:
                    if failure is not None:
                        raise failure
                    return
                ready.clear()
                await ready.wait()
                continue
            if not isinstance(queue[0], TokenProduced):
                others -= 1
                yield queue.popleft()
                continue
            wait = last_token + interval - monotonic()
            if wait > 0 and not ended and not others:  # woken only by the interval's end or an urgent event
                urgent.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await urgent.wait()
            pieces: list[str] = []
            while queue and isinstance(queue[0], TokenProduced):
                pieces.append(queue.popleft().content)  # type: ignore[union-attr]
            last_token = monotonic()
            yield TokenProduced("".join(pieces))
    finally:
        reader.cancel()  # a no-op once it has ended
        await asyncio.wait([reader])  # not `await reader`: a cancellation of this task must still propagate
