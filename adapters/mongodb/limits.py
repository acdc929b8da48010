"""RateLimiter and UsageQuota on MongoDB: counters every worker and host shares.

Each counter is one small document bumped by one atomic `$inc` upsert, so concurrent requests on any number
of processes never lose a count. Documents carry an `expires_at` and a TTL index removes them once no window
or day needs them (MongoDB's TTL monitor runs about once a minute; reads never rely on it).

* `rate_limits`: `_id` = `<key>|<minute number>`, `count`; the previous minute's bucket is read alongside.
* `token_usage`: `_id` = `<visitor>|<YYYY-MM-DD>`, `tokens`, kept two days.

Rate-limit hits need the exact count after their own increment, so they take one `find_one_and_update`,
which SecantusDB (the embedded server) runs as a scan of the collection: cheap here, as `rate_limits` only
holds the last two minutes' keys. Token usage (a document per visitor and day) is an `update_one` read back.

Writes go without `j: true`: a counter lost in a crash only grants a few extra requests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongodb.errors import store_operation
from application.ports.limits import RateLimiter, UsageQuota, wait_seconds
from domain.errors import StoreUnavailable

RATE_LIMITS = "rate_limits"
TOKEN_USAGE = "token_usage"
LIMIT_INDEXES: dict[str, list[IndexModel]] = {
    RATE_LIMITS: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry")],
    TOKEN_USAGE: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry")],
}


async def _bump(
    counters: AsyncCollection[Any], _id: str, field: str, amount: int, expires_at: datetime
) -> int:
    update = {"$inc": {field: amount}, "$setOnInsert": {"expires_at": expires_at}}
    for attempt in range(2):
        try:
            document = await counters.find_one_and_update(
                {"_id": _id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
            if document is None:
                # SecantusDB may answer a racing upsert with no document although it applied the write
                # (docs/secantusdb.md); the count read back is at least ours, which is all a limit needs.
                document = await counters.find_one({"_id": _id})
            if document is not None:
                return int(document[field])
        except DuplicateKeyError:  # two first upserts raced; the second one now finds the document
            if attempt:
                raise
    raise StoreUnavailable("A usage counter could not be read back after its update.")


class MongoRateLimiter(RateLimiter):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._buckets = db.get_collection(RATE_LIMITS)

    @store_operation("count a request for rate limiting")
    async def hit(self, key: str, limit: int, now: datetime) -> float | None:
        seconds = now.timestamp()
        minute = int(seconds // 60)
        expires_at = datetime.fromtimestamp((minute + 2) * 60, UTC)  # kept while a window may read it
        current = await _bump(self._buckets, f"{key}|{minute}", "count", 1, expires_at)
        previous = await self._count(f"{key}|{minute - 1}")
        return wait_seconds(previous, current, seconds - minute * 60, limit)

    @store_operation("read a rate limit")
    async def peek(self, key: str, limit: int, now: datetime) -> float | None:
        seconds = now.timestamp()
        minute = int(seconds // 60)
        current = await self._count(f"{key}|{minute}") + 1
        previous = await self._count(f"{key}|{minute - 1}")
        return wait_seconds(previous, current, seconds - minute * 60, limit)

    async def _count(self, _id: str) -> int:
        document = await self._buckets.find_one({"_id": _id}, {"count": 1})
        return int(document["count"]) if document else 0


class MongoUsageQuota(UsageQuota):
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._days = db.get_collection(TOKEN_USAGE)

    @store_operation("record a visitor's token usage")
    async def add(self, visitor: str, day: date, tokens: int) -> int:
        expires_at = datetime.combine(day + timedelta(days=2), datetime.min.time(), UTC)
        _id = f"{visitor}|{day.isoformat()}"
        update = {"$inc": {"tokens": tokens}, "$setOnInsert": {"expires_at": expires_at}}
        # Not `_bump`: the embedded server runs a findAndModify as a scan of the whole collection, and this
        # one holds a document per visitor and day. The total read back includes any concurrent addition.
        for attempt in range(2):
            try:
                await self._days.update_one({"_id": _id}, update, upsert=True)
                break
            except DuplicateKeyError:  # two first upserts raced; the second one now finds the document
                if attempt:
                    raise
        return await self.used(visitor, day)

    @store_operation("read a visitor's token usage")
    async def used(self, visitor: str, day: date) -> int:
        document = await self._days.find_one({"_id": f"{visitor}|{day.isoformat()}"}, {"tokens": 1})
        return int(document["tokens"]) if document else 0
