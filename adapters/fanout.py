"""Delivering a conversation's events to the subscribers of this process, for every ConversationFeed adapter.

Each subscriber has a bounded buffer that `publish` fills and an `asyncio.Event` that wakes it (no polling).
The store is the truth; the buffer is only a shortcut. A subscriber therefore never loses nor repeats an event:

* it skips what it already yielded (`event_id <= last`), so the same event published twice, or published
  while the subscriber was reading the store, is yielded once;
* an event beyond `last + 1` (an event that never reached the buffer, or that another process's stream
  delivered out of order) makes it read the missing ones from the store first;
* a full buffer takes no more events and marks the subscriber behind: it then empties its buffer and
  re-reads the store after the last event it yielded, page by page.

Stored events that are gone while a subscriber still needed them (pruned: it was more than the retention
window behind, or a hole because writers' clocks disagreed near the retention edge) end its iteration with
ResumeGap, like entering from too old an `event_id` does: an event is never skipped. A hole is re-read three
times within ~0.3 s before that: a read running while events are appended may miss one and see the next
(under 200 sessions on the embedded server, 4 of 200 followers once got `resume_gap` at event 0 this way).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from application.ports.feed import FeedEvent
from domain.errors import ResumeGap

ReadAfter = Callable[[str, int, int], Awaitable[list[FeedEvent]]]
"""`read(conversation_id, after, limit)`: the stored events `after < event_id <= after + limit`, in order."""

PAGE = 500  # events read from the store at a time when catching up
SETTLE_DELAYS = (
    0.01,
    0.05,
    0.2,
)  # seconds between re-reads of events that should be stored but are not (yet)


class _Subscriber:
    __slots__ = ("behind", "closed", "queue", "wake")

    def __init__(self) -> None:
        self.queue: deque[FeedEvent] = deque()
        self.wake = asyncio.Event()
        self.behind = True  # starts by reading the store
        self.closed = False


class Fanout:
    """The subscribers of one process, by conversation; `publish` never blocks and never awaits."""

    def __init__(self, read: ReadAfter, buffer: int) -> None:
        if buffer < 1:
            raise ValueError("a subscriber's buffer holds at least one event")
        self._read = read
        self._buffer = buffer
        self._subscribers: dict[str, set[_Subscriber]] = {}
        self._published: dict[str, int] = {}  # the highest event_id published, per followed conversation
        self._closed = False

    @property
    def conversations(self) -> dict[str, int]:
        """The conversations followed here, with the highest event_id already delivered to their buffers."""
        return {c: self._published.get(c, 0) for c in self._subscribers}

    def publish(self, event: FeedEvent) -> None:
        """Hand a stored event to the conversation's subscribers (ignored when older than what they got)."""
        subscribers = self._subscribers.get(event.conversation_id)
        if not subscribers or event.event_id <= self._published.get(event.conversation_id, 0):
            return
        self._published[event.conversation_id] = event.event_id
        for subscriber in subscribers:
            if len(subscriber.queue) >= self._buffer:
                subscriber.behind = True  # it re-reads the store instead
            else:
                subscriber.queue.append(event)
            subscriber.wake.set()

    def resync_all(self) -> None:
        """Make every subscriber re-read the store (after events may have been missed, e.g. a lost stream)."""
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.behind = True
                subscriber.wake.set()

    def close(self) -> None:
        """End every subscription: their iterators stop; new ones end at once."""
        self._closed = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.closed = True
                subscriber.wake.set()

    @asynccontextmanager
    async def follow(
        self, conversation_id: str, after_event_id: int, check: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[AsyncIterator[FeedEvent]]:
        """Register first (so no live event is missed), run `check` (raises ResumeGap), then iterate."""
        if after_event_id < 0:
            raise ValueError("after_event_id is 0 (from the first event) or more")
        subscriber = _Subscriber()
        subscriber.closed = self._closed
        self._subscribers.setdefault(conversation_id, set()).add(subscriber)
        events = self._events(conversation_id, after_event_id, subscriber)
        try:
            await check()
            yield events
        finally:
            await events.aclose()
            subscribers = self._subscribers.get(conversation_id)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[conversation_id]
                    self._published.pop(conversation_id, None)

    async def _events(
        self, conversation_id: str, last: int, subscriber: _Subscriber
    ) -> AsyncGenerator[FeedEvent, None]:
        while not subscriber.closed:
            if subscriber.behind:
                subscriber.behind = False
                subscriber.queue.clear()
                while True:  # every stored event after `last`, page by page
                    page = await self._stored(conversation_id, last, PAGE)
                    for event in page:
                        yield event
                        last = event.event_id
                    if len(page) < PAGE or subscriber.closed:
                        break
            elif subscriber.queue:
                event = subscriber.queue.popleft()
                if event.event_id <= last:
                    continue
                if event.event_id > last + 1:  # some never reached the buffer: the store has them
                    for missing in await self._missing(conversation_id, last, event.event_id):
                        yield missing
                        last = missing.event_id
                yield event
                last = event.event_id
            else:
                subscriber.wake.clear()
                await subscriber.wake.wait()

    async def _stored(self, conversation_id: str, after: int, limit: int) -> list[FeedEvent]:
        """The stored events after `after` (at most `limit`), which follow one another from `after + 1`.

        A read with a hole is repeated (~0.3 s) before the hole is ResumeGap: a query that runs while events
        are appended can miss one and see the next (MongoDB queries are not snapshots); a hole that stays
        means the events were pruned."""
        for delay in (*SETTLE_DELAYS, None):
            page = await self._read(conversation_id, after, limit)
            whole = _without_holes(page, after)
            if len(whole) == len(page):
                return page
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise ResumeGap(whole[-1].event_id if whole else after, page[len(whole)].event_id)

    async def _missing(self, conversation_id: str, last: int, upto: int) -> list[FeedEvent]:
        """The stored events between `last` and `upto` (both excluded), all of them or ResumeGap."""
        for delay in (*SETTLE_DELAYS, None):
            page = await self._stored(conversation_id, last, upto - 1 - last)
            if len(page) == upto - 1 - last:
                return page
            if delay is None:
                break
            # Short: pruned, or not yet readable although a later id was already given out.
            await asyncio.sleep(delay)
        raise ResumeGap(last, upto)


def _without_holes(page: list[FeedEvent], after: int) -> list[FeedEvent]:
    """The events of `page` up to the first that does not follow the one before it."""
    for count, (expected, event) in enumerate(
        zip(range(after + 1, after + 1 + len(page)), page, strict=True)
    ):
        if event.event_id != expected:
            return page[:count]
    return page
