"""The contract every RateLimiter and UsageQuota passes (subclass and provide `limiter` / `quota`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from application.ports.limits import RateLimiter, UsageQuota

MINUTE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)  # the start of a one-minute bucket


class RateLimiterContract:
    """A sliding window over one-minute buckets; every request counts, refused ones too."""

    @pytest.fixture
    def limiter(self) -> RateLimiter:
        raise NotImplementedError("a subclass provides the `limiter` fixture")

    async def test_allows_up_to_the_limit_then_says_how_long_to_wait(self, limiter: RateLimiter) -> None:
        now = MINUTE + timedelta(seconds=10)
        assert [await limiter.hit("k", 3, now) for _ in range(3)] == [None, None, None]
        wait = await limiter.hit("k", 3, now)
        assert wait is not None and 0 < wait <= 110

    async def test_keys_are_counted_apart(self, limiter: RateLimiter) -> None:
        assert await limiter.hit("a", 1, MINUTE) is None
        assert await limiter.hit("b", 1, MINUTE) is None
        assert await limiter.hit("a", 1, MINUTE) is not None

    async def test_refused_requests_count_too(self, limiter: RateLimiter) -> None:
        for _ in range(5):
            await limiter.hit("k", 2, MINUTE)
        # Five in the previous minute: half of them are still inside the window at its middle.
        assert await limiter.hit("k", 2, MINUTE + timedelta(seconds=90)) is not None

    async def test_the_previous_minute_slides_out(self, limiter: RateLimiter) -> None:
        for _ in range(4):
            await limiter.hit("k", 4, MINUTE + timedelta(seconds=50))
        # 20 s into the next minute, 4 × 2/3 ≈ 2.7 of them still count: one more fits, a second does not.
        later = MINUTE + timedelta(seconds=80)
        assert await limiter.hit("k", 4, later) is None
        wait = await limiter.hit("k", 4, later)
        assert wait is not None
        # After the advised wait one more request fits again.
        assert await limiter.hit("k", 4, later + timedelta(seconds=wait + 0.01)) is None

    async def test_a_quiet_key_starts_afresh_two_minutes_later(self, limiter: RateLimiter) -> None:
        for _ in range(10):
            await limiter.hit("k", 2, MINUTE)
        assert await limiter.hit("k", 2, MINUTE + timedelta(minutes=2)) is None

    async def test_concurrent_hits_are_all_counted(self, limiter: RateLimiter) -> None:
        results = await asyncio.gather(*(limiter.hit("k", 10, MINUTE) for _ in range(25)))
        assert sum(r is None for r in results) == 10

    async def test_peek_says_whether_one_more_fits_and_counts_nothing(self, limiter: RateLimiter) -> None:
        now = MINUTE + timedelta(seconds=10)
        assert await limiter.peek("k", 2, now) is None
        await limiter.hit("k", 2, now)
        assert [await limiter.peek("k", 2, now) for _ in range(5)] == [None] * 5  # peeking counts nothing
        await limiter.hit("k", 2, now)
        wait = await limiter.peek("k", 2, now)
        assert wait is not None and wait > 0
        assert await limiter.peek("other", 2, now) is None
        assert await limiter.peek("k", 2, now + timedelta(seconds=wait + 0.01)) is None


class UsageQuotaContract:
    """Tokens summed per visitor and day."""

    @pytest.fixture
    def quota(self) -> UsageQuota:
        raise NotImplementedError("a subclass provides the `quota` fixture")

    async def test_nothing_spent_is_zero(self, quota: UsageQuota) -> None:
        assert await quota.used("v", date(2025, 3, 1)) == 0

    async def test_adds_up_per_visitor_and_day(self, quota: UsageQuota) -> None:
        day = date(2025, 3, 1)
        assert await quota.add("v", day, 100) == 100
        assert await quota.add("v", day, 50) == 150
        await quota.add("w", day, 7)
        await quota.add("v", day + timedelta(days=1), 1)
        assert await quota.used("v", day) == 150
        assert await quota.used("w", day) == 7
        assert await quota.used("v", day + timedelta(days=1)) == 1

    async def test_concurrent_adds_are_all_counted(self, quota: UsageQuota) -> None:
        day = date(2025, 3, 1)
        await asyncio.gather(*(quota.add("v", day, 3) for _ in range(20)))
        assert await quota.used("v", day) == 60
