"""How much one visitor and one client address may ask (OWASP LLM10, unbounded consumption).

Before a chat turn, `ChatAdmission.admit` counts the request against the visitor's session and the client
address — every request, refused ones too (PRODUCT.md) — and refuses it with `RateLimited` when either went
over its per-minute limit, or with `QuotaExceeded` when the visitor spent its tokens of the (UTC) day. After a
turn, `charge` adds the tokens it cost. A limit of 0 disables that check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.ports.limits import RateLimiter, UsageQuota
from domain.clock import utc_now
from domain.errors import QuotaExceeded, RateLimited
from domain.visitors import SESSION_ID_PATTERN


@dataclass(frozen=True, slots=True)
class TrafficLimits:
    session_per_minute: int = 20
    address_per_minute: int = 120
    visitor_daily_tokens: int = 200_000


class ChatAdmission:
    def __init__(
        self,
        limiter: RateLimiter,
        quota: UsageQuota,
        limits: TrafficLimits,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._limiter = limiter
        self._quota = quota
        self._limits = limits
        self._clock = clock

    @property
    def limits(self) -> TrafficLimits:
        return self._limits

    async def admit(self, session_id: str | None, address: str | None) -> None:
        """Count one chat request; raise `RateLimited` or `QuotaExceeded` when it may not run."""
        now = self._clock()
        waits: list[float] = []
        # An invalid session_id is refused by the turn itself; it is counted by its address only.
        valid_session = session_id is not None and SESSION_ID_PATTERN.fullmatch(session_id) is not None
        if valid_session and self._limits.session_per_minute > 0:
            wait = await self._limiter.hit(f"session:{session_id}", self._limits.session_per_minute, now)
            waits += [wait] if wait is not None else []
        if address and self._limits.address_per_minute > 0:
            wait = await self._limiter.hit(f"address:{address}", self._limits.address_per_minute, now)
            waits += [wait] if wait is not None else []
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise RateLimited(
                f"Too many messages; try again in {retry_after} seconds.", retry_after=retry_after
            )
        if valid_session and self._limits.visitor_daily_tokens > 0:
            assert session_id is not None
            spent = await self._quota.used(session_id, now.date())
            if spent >= self._limits.visitor_daily_tokens:
                midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
                retry_after = max(1, math.ceil((midnight - now).total_seconds()))
                raise QuotaExceeded(
                    "This conversation has used its allowance for today; please come back tomorrow.",
                    retry_after=retry_after,
                )

    async def charge(self, session_id: str, tokens: int) -> None:
        """Add the tokens a turn cost to the visitor's day (a no-op when the quota is disabled)."""
        if self._limits.visitor_daily_tokens > 0 and tokens > 0:
            await self._quota.add(session_id, self._clock().date(), tokens)
