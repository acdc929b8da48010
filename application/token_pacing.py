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


async def paced(
    events: AsyncGenerator[StreamEvent, None],
    interval: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncGenerator[StreamEvent, None]:
    """The events of `events`, token pieces merged to at most one token event per `interval`.

    Iterate it inside `contextlib.aclosing`: closing it cancels the reading task, which closes `events`."""
    queue: deque[StreamEvent] = deque()
    others = 0  # events in `queue` that are not tokens
    ready = asyncio.Event()
    ended = False
    failure: BaseException | None = None

    async def pull() -> None:
        nonlocal ended, failure, others
        try:
            async with aclosing(events):
                async for event in events:
                    queue.append(event)
                    others += not isinstance(event, TokenProduced)
                    ready.set()
                    # A model stream whose pieces are already buffered would otherwise be read to its end in
                    # one step of the event loop, holding every other turn's first token back that long.
                    await asyncio.sleep(0)
        except Exception as error:  # handed to the consumer after the events before it
            failure = error
        finally:
            ended = True
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
            while wait > 0 and not ended and not others:
                ready.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await ready.wait()
                wait = last_token + interval - monotonic()
            pieces: list[str] = []
            while queue and isinstance(queue[0], TokenProduced):
                pieces.append(queue.popleft().content)  # type: ignore[union-attr]
            last_token = monotonic()
            yield TokenProduced("".join(pieces))
    finally:
        reader.cancel()  # a no-op once it has ended
        await asyncio.wait([reader])  # not `await reader`: a cancellation of this task must still propagate
