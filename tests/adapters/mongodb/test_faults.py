"""A MongoDB server that dies: every store call raises StoreUnavailable, fast, and no write is lost silently.

These tests run their own embedded SecantusDB, SIGKILL it mid-test and, for durability, restart it on the
same storage. The client's short server-selection timeout bounds how long a call may take.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bson.errors import InvalidDocument
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DocumentTooLarge, PyMongoError

from adapters.mongodb.agents import MongoAgentRepository
from adapters.mongodb.chat_history import MongoConversationHistory
from adapters.mongodb.conversations import MongoConversationRepository
from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.errors import store_operation
from adapters.mongodb.health import MongoHealthProbe
from adapters.mongodb.indexes import ensure_indexes
from adapters.mongodb.visitors import MongoVisitorRepository
from domain.conversations import Message
from domain.errors import StoreUnavailable
from tests.contracts.agents import SPEC
from tests.contracts.conversations import T0, message, reply

DB = "faults"


def _client(uri: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, socketTimeoutMS=3000)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedMongoServer]:
    embedded = EmbeddedMongoServer(tmp_path)
    await embedded.start()
    try:
        yield embedded
    finally:
        await embedded.stop()


async def _kill(server: EmbeddedMongoServer) -> None:
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    await server.stop()  # reaps the killed process and releases the storage lock


async def test_every_store_call_raises_store_unavailable_when_the_server_dies(
    server: EmbeddedMongoServer,
) -> None:
    uri = server.uri
    port = uri.rsplit(":", 1)[1].split("/")[0]
    client = _client(uri)
    db: AsyncDatabase[Any] = client[DB]
    try:
        await ensure_indexes(db)
        agents = MongoAgentRepository(db)
        visitors = MongoVisitorRepository(db)
        conversations = MongoConversationRepository(db)
        agent = await agents.add(SPEC, T0)
        conversation = await conversations.open("s", agent.id, T0)
        stored = await conversations.append(reply(conversation.id))
        history = MongoConversationHistory(conversations, conversation.id)
        probe = MongoHealthProbe(db, "mongodb (embedded)", timeout_s=1.0)
        assert (await probe.health()).ok

        await _kill(server)

        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "agents.add": lambda: agents.add(SPEC, T0),
            "agents.ensure": lambda: agents.ensure(1, SPEC, T0),
            "agents.get": lambda: agents.get(1),
            "agents.list": lambda: agents.list(10, 0),
            "agents.save": lambda: agents.save(agent),
            "agents.delete": lambda: agents.delete(1),
            "visitors.record_message": lambda: visitors.record_message("s", "web", T0),
            "visitors.get": lambda: visitors.get("s"),
            "conversations.open": lambda: conversations.open("s", 1, T0),
            "conversations.get": lambda: conversations.get(conversation.id),
            "conversations.find": lambda: conversations.find(
                session_id="s", agent_id=None, limit=5, offset=0
            ),
            "conversations.append": lambda: conversations.append(message(conversation.id)),
            "conversations.update_message": lambda: conversations.update_message(stored),
            "conversations.messages": lambda: conversations.messages(conversation.id, limit=5, offset=0),
            "conversations.recent": lambda: conversations.recent(conversation.id, 5),
            "history.aget_messages": history.aget_messages,
            "ensure_indexes": lambda: ensure_indexes(db),
        }

        async def bounded(call: Callable[[], Awaitable[object]]) -> object:
            return await asyncio.wait_for(call(), timeout=10)

        outcomes = await asyncio.gather(*(bounded(call) for call in calls.values()), return_exceptions=True)
        for name, error in zip(calls, outcomes, strict=True):
            assert isinstance(error, StoreUnavailable), f"{name} gave {error!r}"
            assert isinstance(error.__cause__, PyMongoError), name
            assert error.code == "store_unavailable"
            for secret in ("mongodb://", "127.0.0.1", port):
                assert secret not in error.detail, name

        health = await asyncio.wait_for(probe.health(), timeout=5)
        assert (health.name, health.ok, health.kind) == ("store", False, "mongodb (embedded)")
        assert health.detail and "127.0.0.1" not in health.detail
    finally:
        await client.close()


async def test_a_write_reported_done_survives_a_crash(server: EmbeddedMongoServer) -> None:
    client = _client(server.uri)
    db: AsyncDatabase[Any] = client[DB]
    await ensure_indexes(db)
    conversations = MongoConversationRepository(db)
    conversation = await conversations.open("s", 1, T0)
    done: list[Message] = []
    failures: list[BaseException] = []
    enough_written = asyncio.Event()

    async def writer(worker: int) -> None:
        for i in range(10_000):
            try:
                done.append(await conversations.append(message(conversation.id, f"w{worker}-{i}")))
                if len(done) >= 40:
                    enough_written.set()
            except BaseException as error:
                failures.append(error)
                return

    writers = [asyncio.create_task(writer(w)) for w in range(8)]
    await asyncio.wait_for(enough_written.wait(), timeout=30)
    await _kill(server)
    await asyncio.wait_for(asyncio.gather(*writers), timeout=30)
    await client.close()
    assert len(failures) == 8 and all(isinstance(f, StoreUnavailable) for f in failures)

    client = _client(await server.start())  # the same storage, after WiredTiger recovery
    try:
        survivors = MongoConversationRepository(client[DB])
        stored = await survivors.messages(conversation.id, limit=100_000, offset=0)
        stored_ids = {m.id for m in stored}
        assert {m.id for m in done} <= stored_ids, "an append reported done was lost"
        seqs = [m.seq for m in stored]
        assert seqs == sorted(set(seqs))
        after = await survivors.get(conversation.id)
        assert after is not None and after.message_count >= len(stored)
    finally:
        await client.close()


@pytest.mark.parametrize(
    "error",
    [
        DocumentTooLarge("too large"),
        InvalidDocument("cannot encode"),
        OverflowError("MongoDB can only handle up to 8-byte ints"),
    ],
)
async def test_what_bson_cannot_encode_is_a_store_error_too(error: Exception) -> None:
    """A 16 MB document or a 65-bit integer must not escape the mapping as a 500 (issue 12, item 7)."""

    @store_operation("store a message")
    async def write() -> None:
        raise error

    with pytest.raises(StoreUnavailable, match=type(error).__name__):
        await write()
