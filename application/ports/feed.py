"""Port: the live, ordered feed of everything that happens in one conversation (PRODUCT.md, "Live conversations").

Every event of a conversation — the visitor's message, a reply's start, sources, grouped tokens, end or error,
and later handoff and operator events — is appended here and numbered with its `event_id`: 1, 2, 3… per
conversation, with no gaps, the same for every process and host that shares the store. Any number of
subscribers (a visitor's tabs, an operator's console, a channel adapter) read a conversation from an
`event_id` onward and then live.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of a conversation. `data` holds its JSON fields besides `type` (and, on the wire, `seq`)."""

    conversation_id: str
    event_id: int
    type: str
    data: Mapping[str, Any]
    created_at: datetime


class ConversationFeed(ABC):
    """Appends a conversation's events in order and lets subscribers follow them, across processes and hosts.

    Writes either succeed or raise (StoreUnavailable for infrastructure faults). Events older than the
    adapter's retention window may be pruned; reading from before what is kept raises ResumeGap.
    """

    @abstractmethod
    async def append(
        self, conversation_id: str, type: str, data: Mapping[str, Any], now: datetime
    ) -> FeedEvent:
        """Store one event as the conversation's next `event_id` (safe when several writers race) and wake
        its subscribers; returns the stored event. `data` must be JSON-serialisable."""

    @abstractmethod
    def subscribe(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        """Follow a conversation: the iterator yields every event with `event_id > after_event_id` exactly once
        and in order, the stored ones first and then the live ones as they are appended, until the context
        exits. `after_event_id` is 0 (from the first event) or more; beyond the newest one it yields the
        events numbered above it only.

        Entering (`async with`) raises ResumeGap when events after `after_event_id` were already pruned
        (`oldest_kept - 1` is still fine), StoreUnavailable when the store cannot be read. A subscriber that
        falls behind is re-read from the store (a bounded buffer, never a lost or repeated event); the
        iterator itself raises ResumeGap only if the events it still needed were pruned meanwhile (it was
        more than the retention window behind). After `close` the iterator ends (StopAsyncIteration)."""

    @abstractmethod
    async def last_event_id(self, conversation_id: str) -> int:
        """The newest `event_id` of the conversation, 0 when it has none."""

    @abstractmethod
    async def close(self) -> None:
        """Stop following the store (at shutdown): open subscriptions' iterators end, later ones end at once.
        Does not close the store's client (its owner does, after this)."""
