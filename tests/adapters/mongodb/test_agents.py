"""The AgentRepository contract on MongoDB (embedded SecantusDB, and a live server when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.agents import MongoAgentRepository
from tests.contracts.agents import SPEC, AgentRepositoryContract, assert_utc


class TestMongoAgents(AgentRepositoryContract):
    """MongoAgentRepository on the embedded server, plus MongoDB-specific checks."""

    @pytest.fixture
    def repository(self, mongo_db: AsyncDatabase[Any]) -> MongoAgentRepository:
        return MongoAgentRepository(mongo_db)

    async def test_times_are_kept_to_the_millisecond_in_utc(self, repository: MongoAgentRepository) -> None:
        madrid = timezone(timedelta(hours=2))
        now = datetime(2025, 6, 1, 14, 30, 0, 123456, tzinfo=madrid)
        agent = await repository.add(SPEC, now)
        expected = datetime(2025, 6, 1, 12, 30, 0, 123000, tzinfo=UTC)
        assert agent.created_at == expected
        assert await repository.get(agent.id) == agent
        assert_utc(agent.created_at)

    async def test_counter_document_tracks_the_last_id(
        self, repository: MongoAgentRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        await repository.ensure(1, SPEC, now)
        assert await mongo_db["counters"].find_one({"_id": "agents"}) == {"_id": "agents", "value": 1}
        await repository.add(SPEC, now)
        assert (await mongo_db["counters"].find_one({"_id": "agents"}) or {})["value"] == 2

    async def test_add_skips_ids_seeded_ahead_of_the_counter(
        self, repository: MongoAgentRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        await repository.ensure(2, SPEC, now)
        await mongo_db["counters"].delete_many({})  # as if the agent had been seeded by hand
        assert [(await repository.add(SPEC, now)).id for _ in range(2)] == [1, 3]


@pytest.mark.mongodb_live
class TestLiveMongoAgents(AgentRepositoryContract):
    """MongoAgentRepository on MONGODB_TEST_URI."""

    @pytest.fixture
    def repository(self, live_mongo_db: AsyncDatabase[Any]) -> MongoAgentRepository:
        return MongoAgentRepository(live_mongo_db)
