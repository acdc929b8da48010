"""Ports: how many chat requests a key made lately, and how many tokens a visitor spent today.

Both are counters that must be shared by every worker and host serving the same visitors, or each process
would grant its own allowance: the in-memory adapters are for one process (tests, demos, STORAGE=memory), the
MongoDB ones keep the counters in the store every worker already shares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime


class RateLimiter(ABC):
    """A sliding-window counter per key (a session, a client address), over one-minute buckets.

    `hit` counts the request — allowed or not, so a client that keeps knocking stays refused — and estimates
    the requests of the last minute as `current bucket + previous bucket × the part of it still inside the
    window`. The request is allowed when that estimate is at most `limit`.
    """

    @abstractmethod
    async def hit(self, key: str, limit: int, now: datetime) -> float | None:
        """Count one request; None when allowed, else the seconds to wait before one more would be."""

    @abstractmethod
    async def peek(self, key: str, limit: int, now: datetime) -> float | None:
        """Whether one more request would be allowed, counting nothing: None if so, else the seconds to wait."""


class UsageQuota(ABC):
    """Tokens spent per visitor and UTC day."""

    @abstractmethod
    async def add(self, visitor: str, day: date, tokens: int) -> int:
        """Add `tokens` to the visitor's day and return the day's new total."""

    @abstractmethod
    async def used(self, visitor: str, day: date) -> int:
        """The tokens spent by the visitor on `day` (0 when nothing was recorded)."""


def window_estimate(previous: int, current: int, elapsed: float) -> float:
    """Requests in the last minute: all of the current bucket and the unexpired share of the previous one."""
    return previous * (1 - elapsed / 60) + current


def wait_seconds(previous: int, current: int, elapsed: float, limit: int) -> float | None:
    """None when `previous`/`current` (this request included) fit `limit`, else when one more request would.

    `elapsed` is the seconds since the current bucket began. Both adapters share this arithmetic; only where
    the counters live differs.
    """
    if window_estimate(previous, current, elapsed) <= limit:
        return None
    room = limit - 1  # the estimate must fall to limit - 1 for the next request to fit
    if current <= room and previous > 0:
        # The previous bucket's share slides out: previous × (1 − t/60) + current ≤ room.
        return max(0.0, 60 * (1 - (room - current) / previous) - elapsed)
    # Only the next bucket helps: there the current count becomes the previous one.
    until_next = 60 - elapsed
    if current == 0:
        return until_next
    return until_next + max(0.0, 60 * (1 - room / current))
