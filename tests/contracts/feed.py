"""The contract every ConversationFeed passes (subclass and provide `make_feed`, `expire`, `reopen`).

`make_feed(retention, buffer)` builds a feed on a fresh store; `expire(now)` makes the store drop what its
retention lets go at `now` (the TTL monitor, for MongoDB); `reopen(retention)` builds a second adapter on the
same store, as a restarted app would (None when the store does not outlive the adapter).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.feed import ConversationFeed, FeedEvent
from domain.errors import ResumeGap

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TIMEOUT = 2.0

MakeFeed = Callable[[timedelta | None, int], ConversationFeed]
Expire = Callable[[datetime], Awaitable[None]]
Reopen = Callable[[timedelta | None], ConversationFeed] | None


async def take(events: AsyncIterator[FeedEvent], n: int) -> list[FeedEvent]:
    """The next `n` events, failing after TIMEOUT."""

    async def collect() -> list[FeedEvent]:
        return [await anext(events) for _ in range(n)]

    return await asyncio.wait_for(collect(), TIMEOUT)


async def nothing_more(events: AsyncIterator[FeedEvent]) -> None:
    """No further event arrives within a moment (ends the iterator: call it last)."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), 0.15)


def ids(events: list[FeedEvent]) -> list[int]:
    return [e.event_id for e in events]


async def append_many(feed: ConversationFeed, n: int, conversation: str = "c1", at: datetime = T0) -> None:
    for i in range(n):
        await feed.append(conversation, "token", {"text": f"t{i}"}, at)


class ConversationFeedContract:
    @pytest.fixture
    def make_feed(self) -> MakeFeed:
        raise NotImplementedError("a subclass provides the `make_feed` fixture")

    @pytest.fixture
    def expire(self) -> Expire:
        raise NotImplementedError("a subclass provides the `expire` fixture")

    @pytest.fixture
    def reopen(self) -> Reopen:
        return None

    @pytest.fixture
    async def feed(self, make_feed: MakeFeed) -> AsyncIterator[ConversationFeed]:
        feed = make_feed(24 * HOUR, 256)
        yield feed
        await feed.close()

    async def test_events_are_numbered_from_one_per_conversation(self, feed: ConversationFeed) -> None:
        assert await feed.last_event_id("c1") == 0
        first = await feed.append("c1", "visitor_message", {"message_id": "m1", "content": "hola"}, T0)
        assert (first.conversation_id, first.event_id, first.type) == ("c1", 1, "visitor_message")
        assert dict(first.data) == {"message_id": "m1", "content": "hola"}
        assert first.created_at == T0
        assert (await feed.append("c2", "start", {}, T0)).event_id == 1
        assert (await feed.append("c1", "start", {}, T0)).event_id == 2
        assert await feed.last_event_id("c1") == 2
        assert await feed.last_event_id("c2") == 1

    async def test_a_subscriber_gets_the_stored_events_then_the_live_ones_in_order(
        self, feed: ConversationFeed
    ) -> None:
        await append_many(feed, 3)
        async with feed.subscribe("c1", 0) as events:
            stored = await take(events, 3)
            await append_many(feed, 2, at=T0 + timedelta(seconds=1))
            await feed.append("other", "token", {}, T0)  # another conversation's event is not delivered
            live = await take(events, 2)
            assert ids(stored + live) == [1, 2, 3, 4, 5]
            assert [e.data["text"] for e in stored + live] == ["t0", "t1", "t2", "t0", "t1"]
            assert all(e.conversation_id == "c1" for e in stored + live)
            assert live[0].created_at == T0 + timedelta(seconds=1)
            await nothing_more(events)

    async def test_resume_from_any_event_id(self, feed: ConversationFeed) -> None:
        await append_many(feed, 6)
        for after in range(7):
            async with feed.subscribe("c1", after) as events:
                got = await take(events, 6 - after)
                assert ids(got) == list(range(after + 1, 7))
        async with feed.subscribe("c1", 6) as events:
            await feed.append("c1", "end", {}, T0)
            assert ids(await take(events, 1)) == [7]
            await nothing_more(events)

    async def test_after_the_end_waits_for_the_live_events_beyond_it(self, feed: ConversationFeed) -> None:
        await append_many(feed, 3)
        async with feed.subscribe("c1", 5) as events:
            await append_many(feed, 3)  # 4, 5, 6
            assert ids(await take(events, 1)) == [6]
            await nothing_more(events)
        async with feed.subscribe("new", 0) as events:  # a conversation with no event yet
            await feed.append("new", "start", {}, T0)
            assert ids(await take(events, 1)) == [1]

    async def test_many_subscribers_each_get_every_event_once(self, feed: ConversationFeed) -> None:
        await append_many(feed, 2)
        async with (
            feed.subscribe("c1", 0) as a,
            feed.subscribe("c1", 1) as b,
            feed.subscribe("c1", 2) as c,
        ):
            await append_many(feed, 3)
            assert ids(await take(a, 5)) == [1, 2, 3, 4, 5]
            assert ids(await take(b, 4)) == [2, 3, 4, 5]
            assert ids(await take(c, 3)) == [3, 4, 5]
            async with feed.subscribe("c1", 5) as d:  # one joining later, one leaving
                pass
            await feed.append("c1", "end", {}, T0)
            assert [ids(await take(x, 1)) for x in (a, b, c)] == [[6], [6], [6]]
            assert d is not None

    async def test_concurrent_appends_get_every_id_once(self, feed: ConversationFeed) -> None:
        async with feed.subscribe("c1", 0) as events:
            appended = await asyncio.gather(*(feed.append("c1", "token", {"i": i}, T0) for i in range(50)))
            assert sorted(ids(appended)) == list(range(1, 51))
            got = await take(events, 50)
            assert ids(got) == list(range(1, 51))
            by_id = {e.event_id: e.data["i"] for e in appended}
            assert [e.data["i"] for e in got] == [by_id[i] for i in range(1, 51)]
            await nothing_more(events)
        assert await feed.last_event_id("c1") == 50

    async def test_a_subscriber_that_falls_behind_gets_everything_exactly_once(
        self, make_feed: MakeFeed
    ) -> None:
        feed = make_feed(24 * HOUR, 2)
        try:
            async with feed.subscribe("c1", 0) as slow, feed.subscribe("c1", 0) as other:
                await append_many(feed, 30)  # far more than its buffer before it reads anything
                first = await take(slow, 5)
                await append_many(feed, 30)
                rest = await take(slow, 55)
                assert ids(first + rest) == list(range(1, 61))
                assert [e.data["text"] for e in first + rest] == [f"t{i}" for i in range(30)] * 2
                assert ids(await take(other, 60)) == list(range(1, 61))
                await nothing_more(slow)
        finally:
            await feed.close()

    async def test_resuming_from_before_what_is_kept_is_a_resume_gap(
        self, make_feed: MakeFeed, expire: Expire
    ) -> None:
        feed = make_feed(HOUR, 256)
        try:
            await append_many(feed, 3, at=T0)
            later = T0 + 2 * HOUR
            await append_many(feed, 2, at=later)  # 4, 5; 1-3 are older than the hour kept
            await expire(later)
            for after in (0, 2):
                with pytest.raises(ResumeGap) as gap:
                    async with feed.subscribe("c1", after):
                        pass
                assert (gap.value.after_event_id, gap.value.oldest_kept) == (after, 4)
            async with feed.subscribe("c1", 3) as events:  # the oldest kept - 1 is fine
                assert ids(await take(events, 2)) == [4, 5]
        finally:
            await feed.close()

    async def test_numbering_goes_on_after_every_event_expired(
        self, make_feed: MakeFeed, expire: Expire
    ) -> None:
        feed = make_feed(HOUR, 256)
        try:
            await append_many(feed, 3, at=T0)
            await feed.append("other", "start", {}, T0 + 2 * HOUR)  # time goes on elsewhere
            await expire(T0 + 2 * HOUR)
            with pytest.raises(ResumeGap):
                async with feed.subscribe("c1", 1):
                    pass
            async with feed.subscribe("c1", 3) as events:
                assert (await feed.append("c1", "start", {}, T0 + 2 * HOUR)).event_id == 4
                assert ids(await take(events, 1)) == [4]
        finally:
            await feed.close()

    async def test_without_retention_nothing_expires(self, make_feed: MakeFeed, expire: Expire) -> None:
        feed = make_feed(None, 256)
        try:
            await append_many(feed, 2, at=T0)
            await feed.append("c1", "end", {}, T0 + 1000 * HOUR)
            await expire(T0 + 1000 * HOUR)
            async with feed.subscribe("c1", 0) as events:
                assert ids(await take(events, 3)) == [1, 2, 3]
        finally:
            await feed.close()

    async def test_a_restarted_app_sees_the_old_events_and_numbers_on(
        self, feed: ConversationFeed, reopen: Reopen
    ) -> None:
        if reopen is None:
            pytest.skip("this store does not outlive its adapter")
        await append_many(feed, 3)
        await feed.close()
        again = reopen(24 * HOUR)
        try:
            assert await again.last_event_id("c1") == 3
            async with again.subscribe("c1", 1) as events:
                assert (await again.append("c1", "end", {}, T0)).event_id == 4
                assert ids(await take(events, 3)) == [2, 3, 4]
        finally:
            await again.close()

    async def test_close_ends_open_subscriptions(self, make_feed: MakeFeed) -> None:
        feed = make_feed(24 * HOUR, 256)
        await append_many(feed, 1)
        async with feed.subscribe("c1", 0) as events:
            assert ids(await take(events, 1)) == [1]
            waiting = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.01)
            await feed.close()
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(waiting, TIMEOUT)
        async with feed.subscribe("c1", 0) as events:  # after close: ends at once
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(anext(events), TIMEOUT)
