"""Port: where conversations and their messages are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from domain.conversations import Conversation, Message


class ConversationRepository(ABC):
    """Stores one conversation per (session_id, agent_id) and its messages in order.

    Every write either succeeds or raises (StoreUnavailable for infrastructure faults): a message is never
    dropped silently.
    """

    @abstractmethod
    async def open(self, session_id: str, agent_id: int, now: datetime) -> Conversation:
        """The conversation of this visitor with this agent, created if there is none (safe under races)."""

    @abstractmethod
    async def get(self, conversation_id: str) -> Conversation | None:
        """The conversation, or None."""

    @abstractmethod
    async def find(
        self, *, session_id: str | None, agent_id: int | None, limit: int, offset: int
    ) -> list[Conversation]:
        """Conversations matching the filters that are set, most recently updated first."""

    @abstractmethod
    async def append(self, message: Message) -> Message:
        """Add a message at the end of its conversation; returns it with its `seq` (unique, increasing)."""

    @abstractmethod
    async def update_message(self, message: Message) -> None:
        """Replace a stored message's content, status, model, usage, sources and error.

        The conversation's usage total follows the change. Raises KeyError for an unknown message id.
        """

    @abstractmethod
    async def messages(self, conversation_id: str, *, limit: int, offset: int) -> list[Message]:
        """Messages oldest first."""

    @abstractmethod
    async def recent(self, conversation_id: str, limit: int) -> list[Message]:
        """The last `limit` messages, oldest first, read without scanning the whole conversation."""
