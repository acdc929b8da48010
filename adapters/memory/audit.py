"""AuditLog in process memory (STORAGE=memory): the last `capacity` entries, nothing persisted."""

from __future__ import annotations

from collections import deque

from application.ports.audit import AuditLog
from domain.audit import AuditEntry

DEFAULT_CAPACITY = 10_000


class MemoryAuditLog(AuditLog):
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[AuditEntry] = deque(maxlen=capacity)  # the oldest fall off

    async def record(self, entry: AuditEntry) -> None:
        self._entries.append(entry)

    async def list(
        self,
        limit: int,
        offset: int,
        *,
        action: str | None = None,
        target: str | None = None,
        agent_id: int | None = None,
    ) -> list[AuditEntry]:
        # Stable sort on time over the reversed deque: newest first, ties in reverse order of recording.
        newest_first = sorted(reversed(self._entries), key=lambda e: e.time, reverse=True)
        found = [
            e
            for e in newest_first
            if (action is None or e.action == action)
            and (target is None or e.target == target)
            and (agent_id is None or e.agent_id == agent_id)
        ]
        return found[max(offset, 0) : max(offset, 0) + max(limit, 0)]
