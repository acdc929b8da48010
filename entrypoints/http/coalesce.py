"""Token pieces merged into fewer frames when the client side falls behind (docs/performance.md).

Relaying one frame per provider chunk costs a JSON encoding, an ASGI message, a WebSocket frame and a socket
write each: at tens of thousands of pieces a second that saturates a core before anything else does. So the
model's stream is read by a task of its own while the sender works: the first piece goes out as soon as it
comes, and the pieces that arrive while a frame is still being sent (or that one network read delivered
together) leave as one `token` frame. Their concatenation is unchanged, so it still equals `end.answer`.

The pieces waiting are bounded (`max_pending_chars`): beyond it the model's stream is not read until the
sender takes them, so a client that stops reading holds a bounded part of its answer, not all of it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import aclosing

from application.events import StreamEvent, TokenProduced

MAX_PENDING_CHARS = 65_536


async def coalesced(
    events: AsyncGenerator[StreamEvent, None], max_pending_chars: int = MAX_PENDING_CHARS
) -> AsyncGenerator[StreamEvent, None]:
    """The events of `events` in order, consecutive token pieces not yet taken merged into one.

    Iterate it inside `contextlib.aclosing`: closing it (the client left, the turn was cancelled) cancels the
    reading task, which closes `events` — the reply is then stored as it would be without this layer."""
    queue: deque[StreamEvent] = deque()
    ready = asyncio.Event()
    room = asyncio.Event()  # set while fewer than `max_pending_chars` wait
    room.set()
    pending = 0
    ended = False
    failure: Exception | None = None

    async def pull() -> None:
        nonlocal ended, failure, pending
        try:
            async with aclosing(events):
                async for event in events:
                    queue.append(event)
                    ready.set()
                    if isinstance(event, TokenProduced):
                        pending += len(event.content)
                        if pending >= max_pending_chars:
                            room.clear()
                            await room.wait()
        except Exception as error:  # handed to the consumer after the events before it
            failure = error
        finally:
            ended = True
            ready.set()

    reader = asyncio.create_task(pull())
    try:
        while True:
            await ready.wait()
            ready.clear()
            while queue:
                event = queue.popleft()
                if isinstance(event, TokenProduced) and queue and isinstance(queue[0], TokenProduced):
                    pieces = [event.content]
                    while queue and isinstance(queue[0], TokenProduced):
                        pieces.append(queue.popleft().content)  # type: ignore[union-attr]
                    event = TokenProduced("".join(pieces))
                if isinstance(event, TokenProduced):
                    pending -= len(event.content)
                    if pending < max_pending_chars:
                        room.set()
                yield event
            if ended and not queue:
                if failure is not None:
                    raise failure
                return
    finally:
        reader.cancel()  # a no-op once it has ended
        await asyncio.wait([reader])  # not `await reader`: a cancellation of this task must still propagate
