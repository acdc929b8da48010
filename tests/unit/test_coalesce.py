"""Token events of the feed merged when a connection's sender falls behind: order, the first alone, the last
one's event_id, one reply's pieces never merged with another's, a bound on what waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime

import pytest

from application.ports.feed import FeedEvent
from entrypoints.http.coalesce import coalesced

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(event_id: int, kind: str, **data: object) -> FeedEvent:
    return FeedEvent("c", event_id, kind, data, NOW)


async def _feed(pieces: list[str], fail: bool = False, reply: str = "m") -> AsyncIterator[FeedEvent]:
    yield event(1, "start", message_id=reply, conversation_id="c")
    for i, piece in enumerate(pieces):
        if i % 3 == 0:
            await asyncio.sleep(0.005)  # one read of the store brings three events
        yield event(2 + i, "token", content=piece, message_id=reply)
    if fail:
        raise RuntimeError("store broke")
    yield event(2 + len(pieces), "end", message_id=reply, answer="".join(pieces))


def tokens_of(seen: list[FeedEvent]) -> list[str]:
    return [str(e.data["content"]) for e in seen if e.type == "token"]


async def test_events_that_come_together_leave_together_and_the_first_is_not_held_back() -> None:
    pieces = [f"w{i} " for i in range(30)]
    seen: list[FeedEvent] = []
    async with aclosing(coalesced(_feed(pieces))) as events:  # type: ignore[type-var]
        async for item in events:
            seen.append(item)
    tokens = tokens_of(seen)
    assert seen[0].type == "start" and seen[-1].type == "end"
    assert tokens[0] == "w0 w1 w2 "  # what the first read brought, not waiting for the next read
    assert len(tokens) == 10
    assert "".join(tokens) == seen[-1].data["answer"]
    merged = [e for e in seen if e.type == "token"]
    assert [e.event_id for e in merged][:2] == [4, 7]  # a merged frame carries its last event's id


async def test_a_slow_client_gets_fewer_bigger_frames_in_order_with_ids_only_forward() -> None:
    pieces = [f"w{i} " for i in range(30)]
    seen: list[FeedEvent] = []
    async with aclosing(coalesced(_feed(pieces))) as events:  # type: ignore[type-var]
        async for item in events:
            seen.append(item)
            await asyncio.sleep(0.012)  # each send takes longer than two reads
    assert len(tokens_of(seen)) < 10
    assert "".join(tokens_of(seen)) == "".join(pieces) == seen[-1].data["answer"]
    ids = [e.event_id for e in seen]
    assert ids == sorted(set(ids))


async def test_pieces_of_two_replies_are_never_merged() -> None:
    async def two() -> AsyncIterator[FeedEvent]:
        yield event(1, "token", content="a", message_id="r1")
        yield event(2, "token", content="b", message_id="r2")
        yield event(3, "token", content="c", message_id="r2")

    seen: list[FeedEvent] = []
    async with aclosing(coalesced(two())) as events:  # type: ignore[type-var]
        async for item in events:
            seen.append(item)
            await asyncio.sleep(0.01)
    assert [(e.data["message_id"], e.data["content"]) for e in seen][-1] == ("r2", "c") or len(seen) == 2
    assert "".join(str(e.data["content"]) for e in seen if e.data["message_id"] == "r1") == "a"
    assert "".join(str(e.data["content"]) for e in seen if e.data["message_id"] == "r2") == "bc"


async def test_a_failure_arrives_after_the_events_before_it() -> None:
    seen: list[FeedEvent] = []
    with pytest.raises(RuntimeError, match="store broke"):
        async with aclosing(coalesced(_feed(["a", "b"], fail=True))) as events:  # type: ignore[type-var]
            async for item in events:
                seen.append(item)
    assert "".join(tokens_of(seen)) == "ab"


async def test_cancelling_the_consumer_stops_reading_and_propagates() -> None:
    hold = asyncio.Event()
    reads: list[int] = []

    async def slow() -> AsyncIterator[FeedEvent]:
        reads.append(1)
        yield event(1, "token", content="a", message_id="m")
        await hold.wait()
        reads.append(2)
        yield event(2, "token", content="b", message_id="m")

    async def consume() -> None:
        async with aclosing(coalesced(slow())) as events:  # type: ignore[type-var]
            async for _ in events:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    hold.set()
    await asyncio.sleep(0.01)
    assert reads == [1]  # the reader was cancelled with its consumer


async def test_a_sender_that_takes_nothing_stops_the_feed_being_read_beyond_the_bound() -> None:
    produced: list[str] = []

    async def endless() -> AsyncIterator[FeedEvent]:
        yield event(1, "start", message_id="m")
        n = 1
        while True:
            n += 1
            produced.append("x" * 100)
            yield event(n, "token", content=produced[-1], message_id="m")
            await asyncio.sleep(0)

    async with aclosing(coalesced(endless(), max_pending_chars=1000)) as events:  # type: ignore[type-var]
        assert (await anext(events)).type == "start"
        await asyncio.sleep(0.2)  # the sender is stuck: nothing more is taken
        assert len(produced) <= 11
        first = await anext(events)
        assert first.type == "token" and 900 <= len(str(first.data["content"])) <= 1100
