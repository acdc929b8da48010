"""The ConversationFeed contract on MongoDB (embedded and live), plus two processes on one database."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.feed import EVENTS, MongoConversationFeed
from application.ports.feed import ConversationFeed
from domain.errors import ResumeGap, StoreUnavailable
from tests.contracts.feed import (
    HOUR,
    T0,
    ConversationFeedContract,
    Expire,
    MakeFeed,
    Reopen,
    append_many,
    ids,
    nothing_more,
    take,
)


def _expire(db: AsyncDatabase[Any]) -> Expire:
    async def expire(now: datetime) -> None:  # what the TTL monitor does about once a minute
        await db[EVENTS].delete_many({"expires_at": {"$lte": now}})

    return expire


def _maker(db: AsyncDatabase[Any]) -> MakeFeed:
    def make(retention: timedelta | None, buffer: int) -> ConversationFeed:
        return MongoConversationFeed(db, retention, buffer=buffer)

    return make


@pytest.fixture
async def second_db(mongo_db: AsyncDatabase[Any]) -> AsyncIterator[AsyncDatabase[Any]]:
    """The same database through a client of its own, as another process or host has."""
    (host, port), *_ = mongo_db.client.topology_description.server_descriptions()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(host, port, directConnection=True)
    try:
        yield client[mongo_db.name]
    finally:
        await client.close()


class TestMongoConversationFeed(ConversationFeedContract):
    @pytest.fixture
    def make_feed(self, mongo_db: AsyncDatabase[Any]) -> MakeFeed:
        return _maker(mongo_db)

    @pytest.fixture
    def expire(self, mongo_db: AsyncDatabase[Any]) -> Expire:
        return _expire(mongo_db)

    @pytest.fixture
    def reopen(self, mongo_db: AsyncDatabase[Any]) -> Reopen:
        return lambda retention: MongoConversationFeed(mongo_db, retention)

    async def test_one_document_per_event_that_expires_after_the_retention(
        self, feed: ConversationFeed, mongo_db: AsyncDatabase[Any]
    ) -> None:
        await feed.append("c1", "token", {"text": "hola"}, T0)
        document = await mongo_db[EVENTS].find_one({"conversation_id": "c1"}, {"_id": 0})
        assert document is not None
        assert (document["event_id"], document["type"], document["data"]) == (1, "token", {"text": "hola"})
        assert document["expires_at"] - document["created_at"] == 24 * HOUR
        indexes = await mongo_db[EVENTS].index_information()
        assert indexes["expiry"]["expireAfterSeconds"] == 0
        assert indexes["conversation_event"]["unique"]

    async def test_a_restarted_app_numbers_on_after_every_event_expired(
        self, mongo_db: AsyncDatabase[Any], expire: Expire
    ) -> None:
        before = MongoConversationFeed(mongo_db, HOUR)
        await append_many(before, 3, at=T0)
        await before.close()
        await expire(T0 + 2 * HOUR)
        assert await mongo_db[EVENTS].count_documents({}) == 0
        after = MongoConversationFeed(mongo_db, HOUR)  # nothing cached: only the head remembers 3
        try:
            assert await after.last_event_id("c1") == 3
            assert (await after.append("c1", "start", {}, T0 + 2 * HOUR)).event_id == 4
            with pytest.raises(ResumeGap) as gap:
                async with after.subscribe("c1", 2):
                    pass
            assert gap.value.oldest_kept == 4
        finally:
            await after.close()

    async def test_a_subscriber_on_another_process_follows_in_order(
        self, mongo_db: AsyncDatabase[Any], second_db: AsyncDatabase[Any]
    ) -> None:
        a = MongoConversationFeed(mongo_db)
        b = MongoConversationFeed(second_db)
        try:
            await append_many(a, 2)
            async with b.subscribe("c1", 0) as events:
                assert b.mode == "change stream"
                await append_many(a, 3)
                await b.append("c1", "end", {}, T0)  # B continues A's numbering
                assert ids(await take(events, 6)) == [1, 2, 3, 4, 5, 6]
                await nothing_more(events)
        finally:
            await a.close()
            await b.close()

    async def test_the_change_stream_brings_only_other_processes_events(
        self, mongo_db: AsyncDatabase[Any], second_db: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        a = MongoConversationFeed(mongo_db)
        b = MongoConversationFeed(second_db)
        arrived: list[str] = []
        original = a._arrived

        def spy(document: dict[str, Any]) -> None:
            arrived.append(document["writer"])
            original(document)

        monkeypatch.setattr(a, "_arrived", spy)
        try:
            async with a.subscribe("c1", 0) as events:
                await append_many(a, 3)  # delivered on append, not echoed back
                await b.append("c1", "end", {}, T0)
                assert ids(await take(events, 4)) == [1, 2, 3, 4]
                await nothing_more(events)
            assert arrived == [b._writer]
        finally:
            await a.close()
            await b.close()

    async def test_two_processes_appending_at_once_leave_no_gap_and_no_duplicate(
        self, mongo_db: AsyncDatabase[Any], second_db: AsyncDatabase[Any]
    ) -> None:
        a = MongoConversationFeed(mongo_db)
        b = MongoConversationFeed(second_db)
        try:
            async with a.subscribe("c1", 0) as on_a, b.subscribe("c1", 0) as on_b:
                appended = await asyncio.gather(
                    *(feed.append("c1", "token", {"i": i}, T0) for i in range(20) for feed in (a, b))
                )
                assert sorted(ids(appended)) == list(range(1, 41))
                assert ids(await take(on_a, 40)) == list(range(1, 41))
                assert ids(await take(on_b, 40)) == list(range(1, 41))
        finally:
            await a.close()
            await b.close()

    async def test_without_change_streams_it_polls(
        self, mongo_db: AsyncDatabase[Any], second_db: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from pymongo.asynchronous.collection import AsyncCollection
        from pymongo.errors import OperationFailure

        async def no_change_streams(*args: Any, **kwargs: Any) -> Any:
            raise OperationFailure("The $changeStream stage is only supported on replica sets", 40573)

        a = MongoConversationFeed(mongo_db)
        b = MongoConversationFeed(second_db, poll_interval=0.02)
        monkeypatch.setattr(AsyncCollection, "watch", no_change_streams)
        try:
            await append_many(a, 2)
            async with b.subscribe("c1", 1) as events:
                assert b.mode == "polling"
                await append_many(a, 3)
                assert ids(await take(events, 4)) == [2, 3, 4, 5]
                await nothing_more(events)
        finally:
            await a.close()
            await b.close()

    async def test_a_broken_change_stream_is_resumed_from_its_token(
        self,
        mongo_db: AsyncDatabase[Any],
        second_db: AsyncDatabase[Any],
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        from pymongo.asynchronous.change_stream import AsyncChangeStream
        from pymongo.errors import AutoReconnect

        original = AsyncChangeStream.__anext__
        calls = 0

        async def breaks_once(stream: AsyncChangeStream[Any]) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # right after the first event
                raise AutoReconnect("connection reset by peer")
            return await original(stream)

        monkeypatch.setattr(AsyncChangeStream, "__anext__", breaks_once)
        a = MongoConversationFeed(mongo_db)
        b = MongoConversationFeed(second_db)
        try:
            async with b.subscribe("c1", 0) as events:
                await append_many(a, 1)
                assert ids(await take(events, 1)) == [1]
                await append_many(a, 2)  # only the stream brings them: nothing later would show a gap
                assert ids(await take(events, 2)) == [2, 3]
                await nothing_more(events)
            assert calls > 2
            assert "change stream failed" in caplog.text
        finally:
            await a.close()
            await b.close()


async def test_a_dead_server_is_store_unavailable(tmp_path: Path) -> None:
    server = EmbeddedMongoServer(tmp_path)
    uri = await server.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=300)
    feed = MongoConversationFeed(client["feed_faults"])
    try:
        await feed.append("c1", "start", {}, T0)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        await server.stop()  # reaps it (no restart)
        with pytest.raises(StoreUnavailable, match="append a conversation event"):
            await feed.append("c1", "token", {}, T0)
        with pytest.raises(StoreUnavailable, match="open a conversation feed"):
            async with feed.subscribe("c1", 0):
                pass
        with pytest.raises(StoreUnavailable):
            await feed.last_event_id("c1")
    finally:
        await feed.close()
        await server.stop()
        await client.close()


class TestLiveMongoConversationFeed(ConversationFeedContract):
    pytestmark = pytest.mark.mongodb_live

    @pytest.fixture
    def make_feed(self, live_mongo_db: AsyncDatabase[Any]) -> MakeFeed:
        return _maker(live_mongo_db)

    @pytest.fixture
    def expire(self, live_mongo_db: AsyncDatabase[Any]) -> Expire:
        return _expire(live_mongo_db)

    @pytest.fixture
    def reopen(self, live_mongo_db: AsyncDatabase[Any]) -> Reopen:
        return lambda retention: MongoConversationFeed(live_mongo_db, retention)
