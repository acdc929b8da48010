"""The local fan-out behind both feed adapters: the races a store with real round trips makes possible."""

from __future__ import annotations

import asyncio

import pytest

from adapters.fanout import Fanout
from application.ports.feed import FeedEvent
from domain.errors import ResumeGap
from tests.contracts.feed import T0, ids, nothing_more, take


class SlowStore:
    """Stored events, read only once `gate` opens (as a read in flight while events are published)."""

    def __init__(self) -> None:
        self.events: list[FeedEvent] = []
        self.gate = asyncio.Event()
        self.gate.set()

    def add(self, n: int) -> list[FeedEvent]:
        new = [FeedEvent("c", len(self.events) + 1 + i, "token", {}, T0) for i in range(n)]
        self.events += new
        return new

    async def read(self, conversation_id: str, after: int, limit: int) -> list[FeedEvent]:
        await self.gate.wait()
        return [e for e in self.events if after < e.event_id <= after + limit]


async def no_gap() -> None:
    return None


async def test_events_published_while_the_store_is_read_are_yielded_once() -> None:
    store = SlowStore()
    store.add(2)
    fanout = Fanout(store.read, buffer=10)
    store.gate.clear()
    async with fanout.follow("c", 0, no_gap) as events:
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)  # the subscriber is now reading the store
        for event in store.add(3):
            fanout.publish(event)  # buffered and in the store
        store.gate.set()
        got = [await first, *await take(events, 4)]
        assert ids(got) == [1, 2, 3, 4, 5]
        await nothing_more(events)


async def test_an_event_beyond_the_next_one_makes_it_read_the_missing_ones() -> None:
    store = SlowStore()
    fanout = Fanout(store.read, buffer=10)
    async with fanout.follow("c", 0, no_gap) as events:
        one, two, three = store.add(3)
        fanout.publish(one)
        fanout.publish(three)  # `two` arrives late (another process's stream, out of order)
        assert ids(await take(events, 3)) == [1, 2, 3]
        fanout.publish(two)
        await nothing_more(events)


async def test_events_pruned_while_still_needed_end_with_resume_gap() -> None:
    store = SlowStore()
    fanout = Fanout(store.read, buffer=10)
    async with fanout.follow("c", 0, no_gap) as events:
        store.add(3)
        del store.events[:2]  # 1 and 2 expired before this subscriber read them
        fanout.publish(store.events[0])
        with pytest.raises(ResumeGap) as gap:
            await take(events, 1)
        assert (gap.value.after_event_id, gap.value.oldest_kept) == (0, 3)


async def test_a_hole_in_the_stored_events_is_a_resume_gap_never_a_skip() -> None:
    store = SlowStore()
    store.add(4)
    del store.events[2]  # 3 expired before 4 (the writers' clocks disagree)
    fanout = Fanout(store.read, buffer=10)
    async with fanout.follow("c", 0, no_gap) as events:
        with pytest.raises(ResumeGap) as gap:
            await take(events, 4)
        assert gap.value.oldest_kept == 4


async def test_a_negative_after_event_id_is_refused() -> None:
    fanout = Fanout(SlowStore().read, buffer=1)
    with pytest.raises(ValueError):
        async with fanout.follow("c", -1, no_gap):
            pass


class MissingOnce(SlowStore):
    """A store whose first read misses event `hidden` but sees those after it: a query that ran while the
    events were appended (MongoDB queries are not snapshots)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.reads = 0

    async def read(self, conversation_id: str, after: int, limit: int) -> list[FeedEvent]:
        self.reads += 1
        page = await super().read(conversation_id, after, limit)
        return [e for e in page if e.event_id != self.hidden] if self.reads == 1 else page


@pytest.mark.parametrize("hidden", [1, 3])
async def test_an_event_a_read_missed_is_read_again_not_a_resume_gap(hidden: int) -> None:
    store = MissingOnce(hidden)
    store.add(4)
    fanout = Fanout(store.read, buffer=10)
    async with fanout.follow("c", 0, no_gap) as events:
        assert ids(await take(events, 4)) == [1, 2, 3, 4]
        await nothing_more(events)
    assert store.reads >= 2
