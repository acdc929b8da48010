"""VisitorRepository on MongoDB: one document per session_id, counted by one atomic upsert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongodb.documents import VISITORS, bson_time, collection, visitor_from
from adapters.mongodb.errors import store_operation
from application.ports.visitors import VisitorRepository
from domain.visitors import Visitor


class MongoVisitorRepository(VisitorRepository):
    """Visitors in the `visitors` collection, `_id` = session_id.

    `record_message` is a single `update_one` upsert, read back on `_id`: `$setOnInsert` keeps the origin and
    first_seen of the first contact, `$set` moves last_seen, `$inc` counts the message.
    """

    def __init__(self, db: AsyncDatabase[Any], *, journal: bool = True) -> None:
        self._visitors = collection(db, VISITORS, journal=journal)

    @store_operation("record a visitor's message")
    async def record_message(self, session_id: str, origin: str, now: datetime) -> Visitor:
        moment = bson_time(now)
        update = {
            "$setOnInsert": {"origin": origin, "first_seen": moment},
            "$set": {"last_seen": moment},
            "$inc": {"message_count": 1},
        }
        for attempt in range(2):
            try:
                await self._visitors.update_one({"_id": session_id}, update, upsert=True)
            except DuplicateKeyError:  # two first contacts raced; the loser updates the winner's document
                if attempt:
                    raise
                continue
            break
        # Read back on `_id` (a findAndModify scans the whole collection on the embedded server): the
        # visitor as it is now, with any message counted meanwhile by another request.
        document = await self._visitors.find_one({"_id": session_id})
        assert document is not None
        return visitor_from(document)

    @store_operation("read a visitor")
    async def get(self, session_id: str) -> Visitor | None:
        document = await self._visitors.find_one({"_id": session_id})
        return None if document is None else visitor_from(document)
