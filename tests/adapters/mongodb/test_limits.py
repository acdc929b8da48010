"""The RateLimiter and UsageQuota contracts on MongoDB, plus the counters' layout and TTL index."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.limits import RATE_LIMITS, TOKEN_USAGE, MongoRateLimiter, MongoUsageQuota
from tests.contracts.limits import MINUTE, RateLimiterContract, UsageQuotaContract


class TestMongoRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, mongo_db: AsyncDatabase[Any]) -> MongoRateLimiter:
        return MongoRateLimiter(mongo_db)

    async def test_one_expiring_document_per_key_and_minute(
        self, limiter: MongoRateLimiter, mongo_db: AsyncDatabase[Any]
    ) -> None:
        for _ in range(3):
            await limiter.hit("ip:203.0.113.9", 10, MINUTE)
        documents = await mongo_db[RATE_LIMITS].find().to_list()
        minute = int(MINUTE.timestamp() // 60)
        assert [(d["_id"], d["count"]) for d in documents] == [(f"ip:203.0.113.9|{minute}", 3)]
        assert documents[0]["expires_at"].replace(tzinfo=UTC) == datetime.fromtimestamp(
            (minute + 2) * 60, UTC
        )
        indexes = await mongo_db[RATE_LIMITS].index_information()
        assert indexes["expiry"]["expireAfterSeconds"] == 0


class TestMongoUsageQuota(UsageQuotaContract):
    @pytest.fixture
    def quota(self, mongo_db: AsyncDatabase[Any]) -> MongoUsageQuota:
        return MongoUsageQuota(mongo_db)

    async def test_counters_expire_two_days_later(
        self, quota: MongoUsageQuota, mongo_db: AsyncDatabase[Any]
    ) -> None:
        await quota.add("v", date(2025, 3, 1), 5)
        document = await mongo_db[TOKEN_USAGE].find_one({"_id": "v|2025-03-01"})
        assert document is not None
        assert document["expires_at"].replace(tzinfo=UTC) == datetime(2025, 3, 3, tzinfo=UTC)
        assert (await mongo_db[TOKEN_USAGE].index_information())["expiry"]["expireAfterSeconds"] == 0
