"""MongoConversationHistory as a LangChain chat history, and langchain-mongodb reading our messages."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_mongodb import MongoDBChatMessageHistory
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.chat_history import MongoConversationHistory
from adapters.mongodb.conversations import MongoConversationRepository
from domain.conversations import MessageStatus
from domain.usage import Usage
from tests.contracts.conversations import T0, message, reply


@pytest.fixture
def conversations(mongo_db: AsyncDatabase[Any]) -> MongoConversationRepository:
    return MongoConversationRepository(mongo_db)


async def _history(conversations: MongoConversationRepository, **options: Any) -> MongoConversationHistory:
    conversation = await conversations.open("s-1", 1, T0)
    return MongoConversationHistory(conversations, conversation.id, **options)


async def test_added_messages_read_back_equal(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations)
    sent = [
        SystemMessage(content="Sé breve.", id="sys-1"),
        HumanMessage(content="¿Abrís el domingo?", id="h-1"),
        AIMessage(
            content="No, de lunes a sábado.",
            id="a-1",
            usage_metadata={"input_tokens": 12, "output_tokens": 6, "total_tokens": 18},
            response_metadata={"model_name": "llama"},
        ),
    ]
    await history.aadd_messages(sent)
    assert await history.aget_messages() == sent


async def test_added_messages_are_conversation_messages(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations)
    await history.aadd_messages([HumanMessage(content="hola"), AIMessage(content="¡Hola!")])
    user, assistant = await conversations.messages(history.conversation_id, limit=10, offset=0)
    assert (user.role.value, user.content, user.seq) == ("user", "hola", 1)
    assert (assistant.role.value, assistant.content, assistant.seq) == ("assistant", "¡Hola!", 2)
    ids = [m.id for m in await history.aget_messages()]
    assert ids == [user.id, assistant.id]


async def test_repository_messages_read_as_langchain_messages(
    conversations: MongoConversationRepository,
) -> None:
    history = await _history(conversations)
    question = await conversations.append(message(history.conversation_id, "¿Precio?"))
    placeholder = await conversations.append(reply(history.conversation_id))
    await conversations.update_message(
        replace(placeholder, content="10 €", status=MessageStatus.COMPLETE, usage=Usage(3, 2, 5))
    )
    human, ai = await history.aget_messages()
    assert human == HumanMessage(content="¿Precio?", id=question.id)
    assert isinstance(ai, AIMessage) and ai.content == "10 €" and ai.id == placeholder.id
    assert ai.usage_metadata == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert ai.response_metadata == {"status": "complete", "model_name": "m-1"}


async def test_history_size_keeps_the_last_messages(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations, history_size=2)
    await history.aadd_messages([HumanMessage(content=f"m{i}") for i in range(5)])
    assert [m.content for m in await history.aget_messages()] == ["m3", "m4"]


async def test_aclear_empties_the_conversation(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations)
    await history.aadd_messages([HumanMessage(content="a"), AIMessage(content="b")])
    await history.aclear()
    assert await history.aget_messages() == []
    conversation = await conversations.get(history.conversation_id)
    assert conversation is not None and conversation.message_count == 0
    await history.aadd_messages([HumanMessage(content="c")])
    [after] = await conversations.recent(history.conversation_id, 5)
    assert after.seq == 3  # seqs are never reused


async def test_tool_messages_are_refused(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations)
    with pytest.raises(ValueError, match="'tool' message"):
        await history.aadd_messages([ToolMessage(content="42", tool_call_id="t")])
    assert await history.aget_messages() == []


async def test_sync_api_says_to_use_the_async_one(conversations: MongoConversationRepository) -> None:
    history = await _history(conversations)
    with pytest.raises(NotImplementedError, match="aget_messages"):
        _ = history.messages
    with pytest.raises(NotImplementedError, match="aadd_messages"):
        history.add_message(HumanMessage(content="x"))
    with pytest.raises(NotImplementedError, match="aclear"):
        history.clear()


async def test_langchain_mongodb_reads_our_messages_in_order(
    conversations: MongoConversationRepository, mongo_db: AsyncDatabase[Any], mongo_uri: str
) -> None:
    history = await _history(conversations)
    for i in range(6):
        await conversations.append(message(history.conversation_id, f"q{i}"))
        placeholder = await conversations.append(reply(history.conversation_id))
        await conversations.update_message(
            replace(placeholder, content=f"a{i}", status=MessageStatus.COMPLETE)
        )
    ours = await history.aget_messages()

    def read_with_langchain_mongodb(history_size: int | None) -> list[Any]:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        try:
            theirs = MongoDBChatMessageHistory(
                None,
                session_id=history.conversation_id,
                database_name=mongo_db.name,
                collection_name="messages",
                session_id_key="conversation_id",
                history_key="History",
                create_index=False,
                history_size=history_size,
                client=client,
            )
            return list(theirs.messages)
        finally:
            client.close()

    assert [m.content for m in ours] == [text for i in range(6) for text in (f"q{i}", f"a{i}")]
    assert await asyncio.to_thread(read_with_langchain_mongodb, None) == ours
    assert await asyncio.to_thread(read_with_langchain_mongodb, 3) == ours[-3:]
