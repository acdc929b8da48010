"""Port: where visitors are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from domain.visitors import Visitor


class VisitorRepository(ABC):
    """Stores one visitor per `session_id`."""

    @abstractmethod
    async def record_message(self, session_id: str, origin: str, now: datetime) -> Visitor:
        """Count one message from the visitor, creating it on first contact.

        `origin` is kept from the first contact only; `last_seen` becomes `now`.
        """

    @abstractmethod
    async def get(self, session_id: str) -> Visitor | None:
        """The visitor, or None when the session has never written."""
