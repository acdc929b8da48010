"""The AuditLog contract on the in-memory adapter, and its bound."""

from __future__ import annotations

import pytest

from adapters.memory.audit import MemoryAuditLog
from tests.contracts.audit import AuditLogContract, entry


class TestMemoryAudit(AuditLogContract):
    @pytest.fixture
    def audit_log(self) -> MemoryAuditLog:
        return MemoryAuditLog()

    async def test_keeps_only_the_last_entries(self) -> None:
        audit_log = MemoryAuditLog(capacity=3)
        for seconds in range(5):
            await audit_log.record(entry(seconds, target=str(seconds)))
        assert [e.target for e in await audit_log.list(100, 0)] == ["4", "3", "2"]
