"""ConversationRepository on MongoDB: a document per conversation, a document per message.

`append` takes two atomic steps. First the conversation's `last_seq` is read and a conditional
`update_one` on that very `last_seq` `$inc`s it (the message's seq), `message_count` and usage totals and
`$max`es `updated_at`; an append that lost a race matches nothing and tries the next seq, so racing appends
get distinct, increasing seqs. Then the message is inserted under the unique index (conversation_id, seq). If the insert fails, the counters are given back (best effort) and the
error is raised: a message is never reported stored when it is not. A seq whose insert failed
stays unused, so seqs can have gaps; `last_seq - message_count` is the number of gaps.

No write here uses `find_one_and_update`: SecantusDB (the embedded server) runs every findAndModify as a
scan of the whole collection, whatever the filter (measured: 148 ms an operation on 3,000 messages, against
3 ms for `update_one` on `_id`; docs/secantusdb.md), so a turn's writes grew with the data. A read on `_id`
plus an `update_one` costs MongoDB one more round trip and keeps the embedded server's writes flat.

`recent` and `messages` read seq ranges rather than `sort + limit` / `skip`: SecantusDB (the
embedded server) sorts every message of the conversation before applying a limit, so a range
keeps a turn's history read cheap on long conversations there, and costs nothing on MongoDB.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any

from langchain_core.messages import BaseMessage
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongodb.documents import (
    CONVERSATIONS,
    HISTORY_KEY,
    MESSAGES,
    Document,
    bson_time,
    collection,
    conversation_from,
    message_content_fields,
    message_document,
    message_from,
    new_conversation_fields,
    usage_document,
    usage_from,
    usage_increment,
)
from adapters.mongodb.errors import DRIVER_ERRORS, store_operation, store_unavailable
from application.ports.conversations import ConversationRepository
from domain.conversations import Conversation, Message, conversation_id_for
from domain.errors import StoreUnavailable
from domain.usage import Usage

log = logging.getLogger("centralita.mongodb.conversations")

_COUNTERS = {"last_seq": 1, "message_count": 1}
_SEQ_ATTEMPTS = 100


class MongoConversationRepository(ConversationRepository):
    """Conversations in `conversations` (`_id` = conversation id), messages in `messages`.

    Needs the indexes of :func:`adapters.mongodb.indexes.ensure_indexes`.
    """

    def __init__(self, db: AsyncDatabase[Any], *, journal: bool = True) -> None:
        self._conversations = collection(db, CONVERSATIONS, journal=journal)
        self._messages = collection(db, MESSAGES, journal=journal)

    @property
    def messages_collection(self) -> AsyncCollection[Document]:
        """The `messages` collection (for LangChain history readers)."""
        return self._messages

    @store_operation("open a conversation")
    async def open(self, session_id: str, agent_id: int, now: datetime) -> Conversation:
        key = {"session_id": session_id, "agent_id": agent_id}
        document = await self._conversations.find_one(key)
        if document is None:
            update = {
                "$setOnInsert": {
                    "_id": conversation_id_for(session_id, agent_id),
                    **new_conversation_fields(now),
                }
            }
            with suppress(DuplicateKeyError):  # a racing `open` created it between our match and our insert
                await self._conversations.update_one(key, update, upsert=True)
            document = await self._conversations.find_one(key)
        assert document is not None
        return conversation_from(document)

    @store_operation("read a conversation")
    async def get(self, conversation_id: str) -> Conversation | None:
        document = await self._conversations.find_one({"_id": conversation_id})
        return None if document is None else conversation_from(document)

    @store_operation("list conversations")
    async def find(
        self, *, session_id: str | None, agent_id: int | None, limit: int, offset: int
    ) -> list[Conversation]:
        if limit <= 0:
            return []
        query: Document = {}
        if session_id is not None:
            query["session_id"] = session_id
        if agent_id is not None:
            query["agent_id"] = agent_id
        cursor = (
            self._conversations.find(query)
            .sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
            .skip(max(offset, 0))
            .limit(limit)
        )
        return [conversation_from(document) async for document in cursor]

    @store_operation("store a message")
    async def append(self, message: Message, *, langchain_message: BaseMessage | None = None) -> Message:
        """The port's `append`; `langchain_message` (if given) is stored as its LangChain form."""
        usage = message.usage or Usage()
        seq = await self._next_seq(
            message.conversation_id,
            {
                "$inc": {**_COUNTERS, **usage_increment(usage)},
                "$max": {"updated_at": bson_time(message.created_at)},
            },
        )
        stored = replace(message, seq=seq, created_at=bson_time(message.created_at))
        try:
            await self._messages.insert_one(message_document(stored, langchain_message))
        except DRIVER_ERRORS as error:
            await self._give_back(stored, usage)
            if isinstance(error, DuplicateKeyError):
                raise ValueError(f"Message {message.id} is already stored.") from error
            raise store_unavailable("store a message", error) from error
        return stored

    @store_operation("update a message")
    async def update_message(self, message: Message) -> None:
        # Read, then write: one writer per reply (its turn), so nothing changes the usage in between.
        previous = await self._messages.find_one({"_id": message.id}, {"conversation_id": 1, "usage": 1})
        if previous is None:
            raise KeyError(message.id)
        await self._messages.update_one({"_id": message.id}, {"$set": message_content_fields(message)})
        change = (message.usage or Usage()) - (usage_from(previous.get("usage")) or Usage())
        if change != Usage():
            await self._conversations.update_one(
                {"_id": previous["conversation_id"]}, {"$inc": usage_increment(change)}
            )

    @store_operation("read messages")
    async def messages(self, conversation_id: str, *, limit: int, offset: int) -> list[Message]:
        if limit <= 0:
            return []
        offset = max(offset, 0)
        counters = await self._counters(conversation_id)
        if counters is None:
            return []
        last_seq, message_count = counters
        query: Document = {"conversation_id": conversation_id}
        if last_seq == message_count:  # no gaps: the (offset+1)-th message has seq offset+1
            query["seq"] = {"$gt": offset, "$lte": offset + limit}
            cursor = self._messages.find(query).sort("seq", ASCENDING)
        else:
            cursor = self._messages.find(query).sort("seq", ASCENDING).skip(offset).limit(limit)
        return [message_from(document) async for document in cursor]

    @store_operation("read recent messages")
    async def recent(self, conversation_id: str, limit: int) -> list[Message]:
        return [message_from(document) for document in await self._newest(conversation_id, limit)]

    @store_operation("read a conversation's LangChain history")
    async def history(self, conversation_id: str, last: int | None = None) -> list[str]:
        """The stored `History` JSON of the messages (all, or the `last` N), oldest first.

        Not part of the port: :class:`~adapters.mongodb.chat_history.MongoConversationHistory` reads it.
        """
        projection = {HISTORY_KEY: 1}
        if last is not None:
            return [
                document[HISTORY_KEY] for document in await self._newest(conversation_id, last, projection)
            ]
        cursor = self._messages.find({"conversation_id": conversation_id}, projection).sort("seq", ASCENDING)
        return [document[HISTORY_KEY] async for document in cursor]

    @store_operation("clear a conversation")
    async def clear(self, conversation_id: str) -> None:
        """Delete every message of a conversation and zero its totals (seqs are not reused).

        Not part of the port: only LangChain's `aclear` needs it.
        """
        await self._messages.delete_many({"conversation_id": conversation_id})
        await self._conversations.update_one(
            {"_id": conversation_id},
            {"$set": {"message_count": 0, "usage": usage_document(Usage())}},
        )

    async def _newest(
        self, conversation_id: str, limit: int, projection: Document | None = None
    ) -> list[Document]:
        """The last `limit` message documents, oldest first, read as a seq range (see module doc)."""
        if limit <= 0:
            return []
        counters = await self._counters(conversation_id)
        if counters is None:
            return []
        last_seq, message_count = counters
        floor = last_seq - limit - max(last_seq - message_count, 0)
        query: Document = {"conversation_id": conversation_id}
        window = self._messages.find({**query, "seq": {"$gt": floor}}, projection)
        newest = [document async for document in window.sort("seq", DESCENDING).limit(limit)]
        if len(newest) < limit and floor > 0:  # a gap or an append in flight: take the slow, sure path
            cursor = self._messages.find(query, projection).sort("seq", DESCENDING).limit(limit)
            newest = [document async for document in cursor]
        newest.reverse()
        return newest

    async def _counters(self, conversation_id: str) -> tuple[int, int] | None:
        document = await self._conversations.find_one(
            {"_id": conversation_id}, projection={"last_seq": 1, "message_count": 1}
        )
        if document is None:
            return None
        return int(document.get("last_seq", 0)), int(document.get("message_count", 0))

    async def _next_seq(self, conversation_id: str, update: Document) -> int:
        """Apply `update` (which `$inc`s `last_seq`) to the conversation if no other append did meanwhile;
        the seq it took. KeyError for an unknown conversation."""
        for _ in range(_SEQ_ATTEMPTS):
            current = await self._conversations.find_one({"_id": conversation_id}, {"last_seq": 1})
            if current is None:
                raise KeyError(conversation_id)
            last = current.get("last_seq")  # None matches a document without it, which `$inc` starts at 1
            result = await self._conversations.update_one({"_id": conversation_id, "last_seq": last}, update)
            if result.matched_count:
                return int(last or 0) + 1
        raise StoreUnavailable("A message could not be numbered: too many concurrent writers.")

    async def _give_back(self, message: Message, usage: Usage) -> None:
        """Undo an append's counters after its insert failed, unless the insert did land after all."""
        try:
            if await self._messages.find_one({"_id": message.id, "seq": message.seq}, projection={"_id": 1}):
                return
            await self._conversations.update_one(
                {"_id": message.conversation_id},
                {"$inc": {"message_count": -1, **usage_increment(Usage() - usage)}},
            )
        except DRIVER_ERRORS:
            log.warning(
                "conversation %s may count one message too many: message %s was not stored",
                message.conversation_id,
                message.id,
            )
