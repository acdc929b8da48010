"""The VisitorRepository contract on MongoDB (embedded SecantusDB, and a live server when configured)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.visitors import MongoVisitorRepository
from tests.contracts.visitors import VisitorRepositoryContract


class TestMongoVisitors(VisitorRepositoryContract):
    """MongoVisitorRepository on the embedded server, plus its document layout."""

    @pytest.fixture
    def repository(self, mongo_db: AsyncDatabase[Any]) -> MongoVisitorRepository:
        return MongoVisitorRepository(mongo_db)

    async def test_one_document_per_session(
        self, repository: MongoVisitorRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        for _ in range(3):
            await repository.record_message("s-1", "web", now)
        documents = await mongo_db["visitors"].find().to_list()
        assert [d["_id"] for d in documents] == ["s-1"]
        assert set(documents[0]) == {"_id", "origin", "first_seen", "last_seen", "message_count"}


@pytest.mark.mongodb_live
class TestLiveMongoVisitors(VisitorRepositoryContract):
    """MongoVisitorRepository on MONGODB_TEST_URI."""

    @pytest.fixture
    def repository(self, live_mongo_db: AsyncDatabase[Any]) -> MongoVisitorRepository:
        return MongoVisitorRepository(live_mongo_db)
