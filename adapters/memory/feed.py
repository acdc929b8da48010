"""ConversationFeed in process memory (placeholder until the feed branch lands)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

from application.ports.feed import ConversationFeed, FeedEvent


class MemoryConversationFeed(ConversationFeed):
    def __init__(self) -> None:
        self._events: dict[str, list[FeedEvent]] = {}
        self._changed: dict[str, asyncio.Event] = {}

    async def append(
        self, conversation_id: str, type: str, data: Mapping[str, Any], now: datetime
    ) -> FeedEvent:
        events = self._events.setdefault(conversation_id, [])
        event = FeedEvent(conversation_id, len(events) + 1, type, dict(data), now)
        events.append(event)
        changed = self._changed.pop(conversation_id, None)
        if changed is not None:
            changed.set()
        return event

    def subscribe(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        return self._subscribe(conversation_id, after_event_id)

    @asynccontextmanager
    async def _subscribe(self, conversation_id: str, after: int) -> AsyncIterator[AsyncIterator[FeedEvent]]:
        async def events() -> AsyncIterator[FeedEvent]:
            last = after
            while True:
                stored = self._events.get(conversation_id, [])
                if len(stored) > last:
                    for event in stored[last:]:
                        last = event.event_id
                        yield event
                    continue
                changed = self._changed.setdefault(conversation_id, asyncio.Event())
                await changed.wait()

        yield events()

    async def last_event_id(self, conversation_id: str) -> int:
        return len(self._events.get(conversation_id, []))

    async def close(self) -> None:
        pass
