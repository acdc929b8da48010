"""VisitorRepository in process memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from application.ports.visitors import VisitorRepository
from domain.visitors import Visitor


class MemoryVisitorRepository(VisitorRepository):
    def __init__(self) -> None:
        self._visitors: dict[str, Visitor] = {}

    async def record_message(self, session_id: str, origin: str, now: datetime) -> Visitor:
        known = self._visitors.get(session_id) or Visitor(session_id, origin, now, now, 0)
        visitor = replace(known, last_seen=now, message_count=known.message_count + 1)
        self._visitors[session_id] = visitor
        return visitor

    async def get(self, session_id: str) -> Visitor | None:
        return self._visitors.get(session_id)
