"""Token pieces merged when the sender falls behind: order, the first piece alone, failures, closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from application.events import StreamEvent, TokenProduced, TurnEnded, TurnStarted
from entrypoints.http.coalesce import coalesced


async def _model(pieces: list[str], closed: list[bool], fail: bool = False) -> AsyncIterator[StreamEvent]:
    try:
        yield TurnStarted("m", "c")
        for i, piece in enumerate(pieces):
            if i % 3 == 0:
                await asyncio.sleep(0.005)  # one network read brings three pieces
            yield TokenProduced(piece)
        if fail:
            raise RuntimeError("provider broke")
        yield TurnEnded("m", "".join(pieces), None, "groq:x")
    finally:
        closed.append(True)


async def test_pieces_that_come_together_leave_together_and_the_first_is_not_held_back() -> None:
    pieces = [f"w{i} " for i in range(30)]
    closed: list[bool] = []
    seen: list[StreamEvent] = []
    async with aclosing(coalesced(_model(pieces, closed))) as events:
        async for event in events:
            seen.append(event)
    tokens = [e.content for e in seen if isinstance(e, TokenProduced)]
    assert isinstance(seen[0], TurnStarted) and isinstance(seen[-1], TurnEnded)
    assert tokens[0] == "w0 w1 w2 "  # what the first read brought, not waiting for the next read
    assert len(tokens) == 10
    assert "".join(tokens) == seen[-1].answer
    assert closed == [True]


async def test_a_slow_client_gets_fewer_bigger_frames_in_order() -> None:
    pieces = [f"w{i} " for i in range(30)]
    closed: list[bool] = []
    seen: list[StreamEvent] = []
    async with aclosing(coalesced(_model(pieces, closed))) as events:
        async for event in events:
            seen.append(event)
            await asyncio.sleep(0.012)  # each send takes longer than two reads
    tokens = [e.content for e in seen if isinstance(e, TokenProduced)]
    assert len(tokens) < 10
    assert "".join(tokens) == "".join(pieces) == seen[-1].answer


async def test_a_failure_arrives_after_the_events_before_it() -> None:
    closed: list[bool] = []
    seen: list[StreamEvent] = []
    with pytest.raises(RuntimeError, match="provider broke"):
        async with aclosing(coalesced(_model(["a", "b"], closed, fail=True))) as events:
            async for event in events:
                seen.append(event)
    assert "".join(e.content for e in seen if isinstance(e, TokenProduced)) == "ab"


async def test_leaving_early_closes_the_model_stream() -> None:
    closed: list[bool] = []
    async with aclosing(coalesced(_model(["a"] * 50, closed))) as events:
        async for event in events:
            if isinstance(event, TokenProduced):
                break
    assert closed == [True]


async def test_cancelling_the_consumer_closes_the_model_stream_and_propagates() -> None:
    closed: list[bool] = []
    hold = asyncio.Event()

    async def slow() -> AsyncIterator[StreamEvent]:
        try:
            yield TokenProduced("a")
            await hold.wait()
            yield TokenProduced("b")
        finally:
            closed.append(True)

    async def consume() -> None:
        async with aclosing(coalesced(slow())) as events:
            async for _ in events:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]


async def test_a_sender_that_takes_nothing_stops_the_model_being_read_beyond_the_bound() -> None:
    produced: list[str] = []

    async def endless() -> AsyncIterator[StreamEvent]:
        yield TurnStarted("m", "c")
        while True:
            produced.append("x" * 100)
            yield TokenProduced(produced[-1])
            await asyncio.sleep(0)

    async with aclosing(coalesced(endless(), max_pending_chars=1000)) as events:
        assert isinstance(await anext(events), TurnStarted)
        await asyncio.sleep(0.2)  # the sender is stuck: nothing more is taken
        assert len(produced) <= 11
        first = await anext(events)
        assert isinstance(first, TokenProduced) and 900 <= len(first.content) <= 1100
