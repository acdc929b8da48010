"""RateLimiter and UsageQuota in process memory: exact for one process only.

With several workers or hosts each process would count on its own and grant its own allowance; there
STORAGE=mongodb selects the MongoDB adapters (adapters/mongodb/limits.py), which every process shares.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from application.ports.limits import RateLimiter, UsageQuota, wait_seconds


class MemoryRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, int], int] = {}
        self._oldest = 0  # minute below which buckets have been dropped

    async def hit(self, key: str, limit: int, now: datetime) -> float | None:
        seconds = now.timestamp()
        minute = int(seconds // 60)
        self._forget_before(minute - 1)
        current = self._buckets.get((key, minute), 0) + 1
        self._buckets[(key, minute)] = current
        previous = self._buckets.get((key, minute - 1), 0)
        return wait_seconds(previous, current, seconds - minute * 60, limit)

    async def peek(self, key: str, limit: int, now: datetime) -> float | None:
        seconds = now.timestamp()
        minute = int(seconds // 60)
        current = self._buckets.get((key, minute), 0) + 1
        previous = self._buckets.get((key, minute - 1), 0)
        return wait_seconds(previous, current, seconds - minute * 60, limit)

    def _forget_before(self, minute: int) -> None:
        if minute <= self._oldest:
            return
        self._buckets = {bucket: n for bucket, n in self._buckets.items() if bucket[1] >= minute}
        self._oldest = minute


class MemoryUsageQuota(UsageQuota):
    def __init__(self) -> None:
        self._spent: dict[tuple[str, date], int] = {}
        self._latest: date | None = None

    async def add(self, visitor: str, day: date, tokens: int) -> int:
        if self._latest is None or day > self._latest:  # a new day: older totals than yesterday's go
            self._spent = {k: v for k, v in self._spent.items() if k[1] >= day - timedelta(days=1)}
            self._latest = day
        total = self._spent.get((visitor, day), 0) + tokens
        self._spent[(visitor, day)] = total
        return total

    async def used(self, visitor: str, day: date) -> int:
        return self._spent.get((visitor, day), 0)
