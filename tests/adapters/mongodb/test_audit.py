"""The AuditLog contract on MongoDB (embedded SecantusDB, and a live server when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.audit import AUDIT_LOG, MongoAuditLog
from domain.audit import AuditAction, AuditEntry
from domain.errors import StoreUnavailable
from tests.contracts.audit import ACTOR, AuditLogContract, entry


class TestMongoAudit(AuditLogContract):
    @pytest.fixture
    def audit_log(self, mongo_db: AsyncDatabase[Any]) -> MongoAuditLog:
        return MongoAuditLog(mongo_db)

    async def test_one_document_per_entry(
        self, audit_log: MongoAuditLog, mongo_db: AsyncDatabase[Any]
    ) -> None:
        await audit_log.record(entry())
        document = await mongo_db[AUDIT_LOG].find_one({})
        assert document is not None
        del document["_id"]
        assert document == {
            "time": datetime(2025, 3, 1, 12, 0, 0, 123000),  # the test client is not tz_aware
            "action": "agent.updated",
            "target": "3",
            "agent_id": 3,
            "changes": [{"field": "name", "old": "Old", "new": "New"}],
            "client_address": ACTOR.client_address,
            "request_id": ACTOR.request_id,
            "outcome": "succeeded",
        }

    async def test_times_are_kept_to_the_millisecond_in_utc(self, audit_log: MongoAuditLog) -> None:
        madrid = timezone(timedelta(hours=2))
        now = datetime(2025, 6, 1, 14, 30, 0, 123456, tzinfo=madrid)
        await audit_log.record(AuditEntry(now, AuditAction.AGENT_DELETED, "5", 5))
        [found] = await audit_log.list(10, 0)
        assert found.time == datetime(2025, 6, 1, 12, 30, 0, 123000, tzinfo=UTC)

    async def test_writes_are_journaled(self, audit_log: MongoAuditLog) -> None:
        assert audit_log._entries.write_concern.document.get("j") is True

    async def test_the_time_index_exists(self, mongo_db: AsyncDatabase[Any]) -> None:
        indexes = await mongo_db[AUDIT_LOG].index_information()
        assert indexes["recent"]["key"] == [("time", -1), ("_id", -1)]

    async def test_a_store_fault_is_store_unavailable(self) -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            "mongodb://127.0.0.1:1", serverSelectionTimeoutMS=100, connect=False
        )
        try:
            with pytest.raises(StoreUnavailable, match="record an audit entry"):
                await MongoAuditLog(client["nowhere"]).record(entry())
        finally:
            await client.close()


@pytest.mark.mongodb_live
class TestLiveMongoAudit(AuditLogContract):
    @pytest.fixture
    def audit_log(self, live_mongo_db: AsyncDatabase[Any]) -> MongoAuditLog:
        return MongoAuditLog(live_mongo_db)
