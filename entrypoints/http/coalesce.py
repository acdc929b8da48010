"""Token events merged into fewer frames when a client falls behind (docs/performance.md).

A connection reads its conversation's feed by a task of its own while its sender works: an event goes out as
soon as the sender is free, and the `token` events that arrived while a frame was still being sent leave as
one `token` frame (per reply) carrying the last one's `event_id` (ids then skip forward, never back; PRODUCT.md). Their
concatenation is unchanged, so it still equals `end.answer`.

The events waiting are bounded (`max_pending_chars` of token text): beyond it the feed is not read until the
sender takes them, so a client that stops reading holds a bounded part of the conversation, not all of it
(the feed re-reads what it skipped from the store when the reader comes back).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace

from application.conversation_events import TOKEN
from application.ports.feed import FeedEvent

MAX_PENDING_CHARS = 65_536


def _text(event: FeedEvent) -> str:
    content = event.data.get("content", "")
    return content if isinstance(content, str) else ""


def _same_reply(token: FeedEvent, other: FeedEvent) -> bool:
    return other.type == TOKEN and other.data.get("message_id") == token.data.get("message_id")


async def coalesced(
    events: AsyncIterator[FeedEvent], max_pending_chars: int = MAX_PENDING_CHARS
) -> AsyncIterator[FeedEvent]:
    """The events of `events` in order, consecutive `token` events not yet taken merged into one.

    Closing it (the client left) cancels the reading task; `events` itself is closed by its owner."""
    queue: deque[FeedEvent] = deque()
    ready = asyncio.Event()
    room = asyncio.Event()  # set while fewer than `max_pending_chars` wait
    room.set()
    pending = 0
    ended = False
    failure: Exception | None = None

    async def pull() -> None:
        nonlocal ended, failure, pending
        try:
            async for event in events:
                queue.append(event)
                ready.set()
                if event.type == TOKEN:
                    pending += len(_text(event))
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
                if event.type == TOKEN and queue and _same_reply(event, queue[0]):
                    pieces = [_text(event)]
                    while queue and _same_reply(event, queue[0]):
                        event = queue.popleft()
                        pieces.append(_text(event))
                    event = replace(event, data={**event.data, "content": "".join(pieces)})
                    pending -= sum(len(p) for p in pieces)
                elif event.type == TOKEN:
                    pending -= len(_text(event))
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
