"""ConversationFeed in process memory (STORAGE=memory): exact for one process, nothing survives a restart.

Events are kept per conversation in order; those older than `retention` are dropped when the conversation
(or, at most once a minute, any conversation) gets a new event. A conversation's numbering goes on after
all its events were dropped. Subscribers are woken through `adapters/fanout.py` (an asyncio.Event each).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from adapters.fanout import Fanout
from application.ports.feed import ConversationFeed, FeedEvent
from domain.errors import ResumeGap

DEFAULT_RETENTION = timedelta(hours=24)
DEFAULT_BUFFER = 256  # events a subscriber may have waiting before it re-reads the store
_SWEEP_EVERY = timedelta(minutes=1)


class _Conversation:
    __slots__ = ("events", "last")

    def __init__(self) -> None:
        self.events: deque[FeedEvent] = deque()
        self.last = 0  # kept when every event was pruned, so numbering goes on


class MemoryConversationFeed(ConversationFeed):
    def __init__(self, retention: timedelta | None = DEFAULT_RETENTION, buffer: int = DEFAULT_BUFFER) -> None:
        self._retention = retention
        self._conversations: dict[str, _Conversation] = {}
        self._fanout = Fanout(self._read, buffer)
        self._swept: datetime | None = None

    async def append(
        self, conversation_id: str, type: str, data: Mapping[str, Any], now: datetime
    ) -> FeedEvent:
        conversation = self._conversations.setdefault(conversation_id, _Conversation())
        conversation.last += 1
        event = FeedEvent(conversation_id, conversation.last, type, dict(data), now)
        conversation.events.append(event)
        self._prune(conversation, now)
        self._fanout.publish(event)
        return event

    def subscribe(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        async def check() -> None:
            conversation = self._conversations.get(conversation_id)
            if conversation is None:
                return
            oldest = conversation.events[0].event_id if conversation.events else conversation.last + 1
            if after_event_id < oldest - 1:
                raise ResumeGap(after_event_id, oldest)

        return self._fanout.follow(conversation_id, after_event_id, check)

    async def last_event_id(self, conversation_id: str) -> int:
        conversation = self._conversations.get(conversation_id)
        return conversation.last if conversation else 0

    async def close(self) -> None:
        self._fanout.close()

    async def _read(self, conversation_id: str, after: int, limit: int) -> list[FeedEvent]:
        conversation = self._conversations.get(conversation_id)
        if conversation is None or not conversation.events:
            return []
        start = max(after + 1 - conversation.events[0].event_id, 0)  # ids are consecutive in the deque
        return [conversation.events[i] for i in range(start, min(start + limit, len(conversation.events)))]

    def _prune(self, conversation: _Conversation, now: datetime) -> None:
        if self._retention is None:
            return
        cutoff = now - self._retention
        _drop_before(conversation, cutoff)
        if self._swept is None or now - self._swept >= _SWEEP_EVERY:  # the quiet conversations too
            self._swept = now
            for other in self._conversations.values():
                _drop_before(other, cutoff)


def _drop_before(conversation: _Conversation, cutoff: datetime) -> None:
    events = conversation.events
    while events and events[0].created_at < cutoff:
        events.popleft()
