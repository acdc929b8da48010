"""A reply's token pieces grouped before they enter the feed: the first at once, then at most one token event
per interval, the end flushing what waits, nothing lost or reordered, the model stream closed when left."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

import pytest

from application.events import StreamEvent, TokenProduced, TurnEnded, TurnStarted
from application.token_pacing import paced


async def _model(
    pieces: list[str], gap: float, closed: list[bool], fail: bool = False
) -> AsyncGenerator[StreamEvent, None]:
    try:
        yield TurnStarted("m", "c")
        for piece in pieces:
            await asyncio.sleep(gap)
            yield TokenProduced(piece)
        if fail:
            raise RuntimeError("provider broke")
        yield TurnEnded("m", "".join(pieces), None, "groq:x")
    finally:
        closed.append(True)


async def _collect(events: AsyncGenerator[StreamEvent, None]) -> list[tuple[float, StreamEvent]]:
    seen: list[tuple[float, StreamEvent]] = []
    async with aclosing(events) as stream:
        async for event in stream:
            seen.append((time.monotonic(), event))
    return seen


async def test_the_first_piece_is_not_held_and_later_ones_leave_at_most_once_per_interval() -> None:
    pieces = [f"w{i} " for i in range(40)]
    closed: list[bool] = []
    started = time.monotonic()
    seen = await _collect(paced(_model(pieces, 0.005, closed), interval=0.05))
    tokens = [(at, e) for at, e in seen if isinstance(e, TokenProduced)]
    assert tokens[0][1].content == "w0 " and tokens[0][0] - started < 0.04  # at once
    assert 3 <= len(tokens) <= 8, len(tokens)  # ~0.2 s of pieces in ≤ 0.05 s groups, not 40 events
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(tokens[:-1])]  # the last one: flushed by the end
    assert min(gaps) >= 0.045
    assert isinstance(seen[-1][1], TurnEnded)
    assert "".join(e.content for _, e in tokens) == seen[-1][1].answer  # type: ignore[union-attr]
    assert closed == [True]


async def test_the_end_flushes_the_pieces_waiting_at_once() -> None:
    closed: list[bool] = []
    seen = await _collect(paced(_model(["a", "b", "c"], 0.001, closed), interval=5.0))
    kinds = [type(e).__name__ for _, e in seen]
    assert kinds == ["TurnStarted", "TokenProduced", "TokenProduced", "TurnEnded"]
    assert [e.content for _, e in seen if isinstance(e, TokenProduced)] == ["a", "bc"]
    assert seen[-1][0] - seen[0][0] < 1.0  # the end did not wait for the interval


async def test_a_failure_arrives_after_the_pieces_before_it() -> None:
    closed: list[bool] = []
    seen: list[StreamEvent] = []
    with pytest.raises(RuntimeError, match="provider broke"):
        async with aclosing(paced(_model(["a", "b"], 0.001, closed, fail=True), interval=1.0)) as events:
            async for event in events:
                seen.append(event)
    assert "".join(e.content for e in seen if isinstance(e, TokenProduced)) == "ab"


async def test_leaving_early_closes_the_model_stream() -> None:
    closed: list[bool] = []
    async with aclosing(paced(_model(["a"] * 50, 0.001, closed), interval=0.01)) as events:
        async for event in events:
            if isinstance(event, TokenProduced):
                break
    assert closed == [True]
