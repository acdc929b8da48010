"""The ConversationRepository contract on MongoDB, and the document layout behind it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.conversations import MongoConversationRepository
from adapters.mongodb.indexes import ensure_indexes
from domain.conversations import MessageStatus
from domain.usage import Usage
from tests.contracts.conversations import T0, ConversationRepositoryContract, message, reply


class TestMongoConversations(ConversationRepositoryContract):
    """MongoConversationRepository on the embedded server, plus MongoDB-specific checks."""

    @pytest.fixture
    def repository(self, mongo_db: AsyncDatabase[Any]) -> MongoConversationRepository:
        return MongoConversationRepository(mongo_db)

    async def test_each_message_is_its_own_document(
        self, repository: MongoConversationRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        first = await repository.append(message(conversation.id, "¿Hola?"))
        await repository.append(reply(conversation.id, usage=Usage(1, 2, 3)))
        stored = await mongo_db["conversations"].find_one({"_id": conversation.id})
        assert stored is not None
        assert not any(isinstance(value, list) for value in stored.values())
        assert (stored["last_seq"], stored["message_count"]) == (2, 2)
        document = await mongo_db["messages"].find_one({"_id": first.id})
        assert document is not None
        assert (document["conversation_id"], document["seq"], document["role"]) == (
            conversation.id,
            1,
            "user",
        )
        history = json.loads(document["History"])
        assert history["type"] == "human" and history["data"]["content"] == "¿Hola?"
        assert history["data"]["id"] == first.id

    async def test_update_message_rewrites_the_langchain_form(
        self, repository: MongoConversationRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        placeholder = await repository.append(reply(conversation.id))
        await repository.update_message(
            replace(placeholder, content="Listo", status=MessageStatus.COMPLETE, usage=Usage(4, 5, 9))
        )
        document = await mongo_db["messages"].find_one({"_id": placeholder.id})
        assert document is not None
        data = json.loads(document["History"])["data"]
        assert (data["content"], data["usage_metadata"]["total_tokens"]) == ("Listo", 9)
        assert data["response_metadata"] == {"status": "complete", "model_name": "m-1"}

    async def test_times_are_normalized_to_utc_milliseconds(
        self, repository: MongoConversationRepository
    ) -> None:
        madrid = timezone(timedelta(hours=1))
        now = datetime(2025, 1, 1, 13, 0, 0, 999999, tzinfo=madrid)
        conversation = await repository.open("s", 1, now)
        assert conversation.created_at == datetime(2025, 1, 1, 12, 0, 0, 999000, tzinfo=UTC)
        appended = await repository.append(message(conversation.id, at=now))
        assert await repository.recent(conversation.id, 1) == [appended]

    async def test_recent_and_paging_survive_gaps_in_seq(
        self, repository: MongoConversationRepository, mongo_db: AsyncDatabase[Any]
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        before = [await repository.append(message(conversation.id, f"a{i}")) for i in range(5)]
        # A reserved seq whose insert failed and whose counters were given back: a gap.
        await mongo_db["conversations"].update_one({"_id": conversation.id}, {"$inc": {"last_seq": 3}})
        after = [await repository.append(message(conversation.id, f"b{i}")) for i in range(3)]
        assert [m.seq for m in after] == [9, 10, 11]
        everything = before + after
        assert await repository.recent(conversation.id, 4) == everything[-4:]
        assert await repository.recent(conversation.id, 7) == everything[-7:]
        assert await repository.recent(conversation.id, 100) == everything
        assert await repository.messages(conversation.id, limit=3, offset=4) == everything[4:7]

    async def test_a_duplicate_message_id_is_refused_and_not_counted(
        self, repository: MongoConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        sent = message(conversation.id, usage=Usage(1, 1, 2))
        await repository.append(sent)
        with pytest.raises(ValueError, match="already stored"):
            await repository.append(replace(sent, content="again"))
        stored = await repository.get(conversation.id)
        assert stored is not None and (stored.message_count, stored.usage) == (1, Usage(1, 1, 2))
        assert [m.content for m in await repository.recent(conversation.id, 5)] == ["hola"]

    async def test_ensure_indexes_is_idempotent_and_complete(self, mongo_db: AsyncDatabase[Any]) -> None:
        await ensure_indexes(mongo_db)
        conversations = await mongo_db["conversations"].index_information()
        messages = await mongo_db["messages"].index_information()
        assert conversations["visitor_agent"]["unique"] is True
        assert {"agent_recent", "visitor_recent", "recent"} <= set(conversations)
        assert messages["conversation_seq"]["unique"] is True
        assert messages["conversation_seq"]["key"] == [("conversation_id", 1), ("seq", 1)]


@pytest.mark.mongodb_live
class TestLiveMongoConversations(ConversationRepositoryContract):
    """MongoConversationRepository on MONGODB_TEST_URI."""

    @pytest.fixture
    def repository(self, live_mongo_db: AsyncDatabase[Any]) -> MongoConversationRepository:
        return MongoConversationRepository(live_mongo_db)
