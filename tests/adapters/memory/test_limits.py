"""The RateLimiter and UsageQuota contracts on the in-memory adapters."""

from __future__ import annotations

import pytest

from adapters.memory.limits import MemoryRateLimiter, MemoryUsageQuota
from tests.contracts.limits import RateLimiterContract, UsageQuotaContract


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self) -> MemoryRateLimiter:
        return MemoryRateLimiter()


class TestMemoryUsageQuota(UsageQuotaContract):
    @pytest.fixture
    def quota(self) -> MemoryUsageQuota:
        return MemoryUsageQuota()
