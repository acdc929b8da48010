"""AuditLog on MongoDB: one document per entry in the `audit_log` collection, journaled like every write.

`_id` is an ObjectId made by the driver: it grows within a process, so (time ↓, _id ↓) lists entries with
equal (millisecond) times in reverse order of recording. Entries are never updated nor deleted here.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.documents import Document, bson_time, collection
from adapters.mongodb.errors import store_operation
from application.ports.audit import AuditLog
from domain.audit import Actor, AuditAction, AuditEntry, AuditOutcome, FieldChange

AUDIT_LOG = "audit_log"
_NEWEST_FIRST = [("time", DESCENDING), ("_id", DESCENDING)]

AUDIT_INDEXES: dict[str, list[IndexModel]] = {
    AUDIT_LOG: [
        IndexModel(_NEWEST_FIRST, name="recent"),
        IndexModel([("target", 1), *_NEWEST_FIRST], name="target_recent"),
        IndexModel([("agent_id", 1), *_NEWEST_FIRST], name="agent_recent"),
    ]
}


def entry_document(entry: AuditEntry) -> Document:
    return {
        "_id": ObjectId(),
        "time": bson_time(entry.time),
        "action": entry.action.value,
        "target": entry.target,
        "agent_id": entry.agent_id,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in entry.changes],
        "client_address": entry.actor.client_address,
        "request_id": entry.actor.request_id,
        "outcome": entry.outcome.value,
    }


def entry_from(document: Document) -> AuditEntry:
    return AuditEntry(
        time=document["time"],
        action=AuditAction(document["action"]),
        target=document["target"],
        agent_id=document.get("agent_id"),
        changes=tuple(
            FieldChange(c["field"], c.get("old"), c.get("new")) for c in document.get("changes", [])
        ),
        actor=Actor(document.get("client_address"), document.get("request_id")),
        outcome=AuditOutcome(document.get("outcome", AuditOutcome.SUCCEEDED.value)),
    )


class MongoAuditLog(AuditLog):
    def __init__(self, db: AsyncDatabase[Any], *, journal: bool = True) -> None:
        self._entries = collection(db, AUDIT_LOG, journal=journal)

    @store_operation("record an audit entry")
    async def record(self, entry: AuditEntry) -> None:
        await self._entries.insert_one(entry_document(entry))

    @store_operation("read the audit log")
    async def list(
        self,
        limit: int,
        offset: int,
        *,
        action: str | None = None,
        target: str | None = None,
        agent_id: int | None = None,
    ) -> list[AuditEntry]:
        if limit <= 0:
            return []
        query: Document = {}
        if action is not None:
            query["action"] = action
        if target is not None:
            query["target"] = target
        if agent_id is not None:
            query["agent_id"] = agent_id
        cursor = self._entries.find(query).sort(_NEWEST_FIRST).skip(max(offset, 0)).limit(limit)
        return [entry_from(document) async for document in cursor]
