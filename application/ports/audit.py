"""Port: where the audit log of admin changes is kept."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.audit import AuditEntry


class AuditLog(ABC):
    """An append-only record of admin changes, read newest first.

    An adapter may keep only the most recent entries (the in-memory one does), never reorder or alter them.
    """

    @abstractmethod
    async def record(self, entry: AuditEntry) -> None:
        """Store `entry` durably before returning; raise StoreUnavailable when it could not be stored."""

    @abstractmethod
    async def list(
        self,
        limit: int,
        offset: int,
        *,
        action: str | None = None,
        target: str | None = None,
        agent_id: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, newest first (equal times: the last recorded first)."""
