"""The indexes every store query relies on; `ensure_indexes(db)` creates them (idempotent).

Run it once at startup, before serving. The unique ones are part of correctness, not only speed:
(session_id, agent_id) makes `open` race-safe, (conversation_id, seq) guards message order and
(conversation_id, event_id) numbers a conversation's feed events without gaps.
Agents, visitors and messages are found by `_id`, which needs no extra index.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.audit import AUDIT_INDEXES
from adapters.mongodb.documents import CONVERSATIONS, MESSAGES
from adapters.mongodb.errors import store_operation
from adapters.mongodb.feed import FEED_INDEXES
from adapters.mongodb.limits import LIMIT_INDEXES

INDEXES: dict[str, list[IndexModel]] = {
    CONVERSATIONS: [
        IndexModel([("session_id", ASCENDING), ("agent_id", ASCENDING)], unique=True, name="visitor_agent"),
        # `find` sorts by (updated_at, _id) descending, with or without one filter:
        IndexModel(
            [("agent_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)], name="agent_recent"
        ),
        IndexModel(
            [("session_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)],
            name="visitor_recent",
        ),
        IndexModel([("updated_at", DESCENDING), ("_id", DESCENDING)], name="recent"),
    ],
    MESSAGES: [
        IndexModel(
            [("conversation_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="conversation_seq"
        ),
    ],
    **LIMIT_INDEXES,  # TTL indexes of the rate-limit and token-usage counters
    **AUDIT_INDEXES,  # the audit log, newest first (whole, by target, by agent)
    **FEED_INDEXES,  # conversation events: unique (conversation_id, event_id) numbers them; TTL on expires_at
}


@store_operation("create its indexes")
async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    """Create the indexes of the agents/visitors/conversations/messages collections if missing."""
    for name, models in INDEXES.items():
        await db[name].create_indexes(models)
