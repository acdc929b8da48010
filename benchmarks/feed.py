"""Conversation feed benchmark (issue 13): append → delivered, and what open subscriptions cost.

Prints, for the memory adapter and for MongoDB (the embedded SecantusDB started in a temporary directory,
unless ``--uri`` is given):

* ``same host`` — append → the event reaches a subscriber of the same adapter (local fan-out), p50 / p90;
* ``other host`` (MongoDB) — the same append reaching a subscriber of a second MongoConversationFeed on its
  own AsyncMongoClient, as another process or host would follow it (the change stream), p50 / p90;
* ``rss 1000 subscriptions`` — RSS growth of this process (and of the embedded server) after opening 1,000
  conversations, one event each, each followed by one subscriber task.

Appends are spaced (``--gap-ms``) so that the figures are latencies, not queueing. Targets: same host p50
≤ 2 ms (memory), ≤ 15 ms (embedded MongoDB); other host p50 ≤ 100 ms.

Usage: ``python benchmarks/feed.py [--uri mongodb://…] [--events 300] [--gap-ms 5] [--conversations 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.memory.feed import MemoryConversationFeed
from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.feed import MongoConversationFeed
from adapters.mongodb.indexes import ensure_indexes
from application.ports.feed import ConversationFeed, FeedEvent
from benchmarks.termination import run_async
from domain.clock import utc_now


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or 'self'}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=10)
    return f"p50 {statistics.median(ms):6.2f} ms   p90 {q[8]:6.2f} ms   max {ms[-1]:6.2f} ms   (n={len(ms)})"


async def _receive(events: AsyncIterator[FeedEvent], n: int, into: list[float]) -> None:
    async for event in events:
        into.append(time.perf_counter() - event.data["t"])
        if len(into) == n:
            return


async def latency(
    writer: ConversationFeed, readers: dict[str, ConversationFeed], events: int, gap: float
) -> dict[str, list[float]]:
    conversation = uuid.uuid4().hex
    got: dict[str, list[float]] = {name: [] for name in readers}
    async with AsyncExitStack() as stack:
        tasks = []
        for name, feed in readers.items():
            stream = await stack.enter_async_context(feed.subscribe(conversation, 0))
            tasks.append(asyncio.create_task(_receive(stream, events, got[name])))
        for _ in range(5):  # warm-up, not measured
            await writer.append(conversation, "token", {"t": time.perf_counter(), "warm": True}, utc_now())
        await asyncio.sleep(0.2)
        for values in got.values():
            values.clear()
        for i in range(events):
            await writer.append(conversation, "token", {"t": time.perf_counter(), "i": i}, utc_now())
            await asyncio.sleep(gap)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return got


async def open_subscriptions(feed: ConversationFeed, n: int, server_pid: int | None) -> str:
    gc.collect()
    before, server_before = rss_mb(), rss_mb(server_pid) if server_pid else 0.0
    conversations = [uuid.uuid4().hex for _ in range(n)]
    delivered = 0
    all_delivered = asyncio.Event()

    async def follow(conversation: str, entered: asyncio.Event) -> None:
        nonlocal delivered
        async with feed.subscribe(conversation, 0) as events:
            entered.set()
            async for _ in events:
                delivered += 1
                if delivered == n:
                    all_delivered.set()

    tasks = []
    for conversation in conversations:
        await feed.append(conversation, "visitor_message", {"content": "hola"}, utc_now())
        entered = asyncio.Event()
        tasks.append(asyncio.create_task(follow(conversation, entered)))
        await entered.wait()
    await asyncio.wait_for(all_delivered.wait(), 60)
    gc.collect()
    after, server_after = rss_mb(), rss_mb(server_pid) if server_pid else 0.0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    line = f"+{after - before:5.1f} MB in this process ({(after - before) * 1024 / n:4.1f} KB each)"
    if server_pid:
        line += f", +{server_after - server_before:5.1f} MB in the embedded server"
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uri", help="a MongoDB to use instead of the embedded server")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=5)
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    gap = args.gap_ms / 1000

    print(f"memory adapter ({args.events} events, one every {args.gap_ms} ms)")
    memory = MemoryConversationFeed()
    got = await latency(memory, {"same": memory}, args.events, gap)
    print(f"  same host            {percentiles(got['same'])}")
    print(
        f"  rss {args.conversations} subscriptions {await open_subscriptions(memory, args.conversations, None)}"
    )
    await memory.close()

    async with contextlib.AsyncExitStack() as stack:
        server_pid = None
        uri = args.uri
        if uri is None:
            server = EmbeddedMongoServer(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            uri = await server.start()
            stack.push_async_callback(server.stop)
            server_pid = server.pid
        name = f"bench_feed_{uuid.uuid4().hex[:8]}"
        here: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
        there: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
        stack.push_async_callback(here.close)
        stack.push_async_callback(there.close)
        stack.push_async_callback(here.drop_database, name)
        await ensure_indexes(here[name])
        a = MongoConversationFeed(here[name])
        b = MongoConversationFeed(there[name])
        stack.push_async_callback(a.close)
        stack.push_async_callback(b.close)
        kind = "embedded SecantusDB" if args.uri is None else "MongoDB at --uri"
        print(f"MongoDB adapter, {kind} ({args.events} events, one every {args.gap_ms} ms)")
        got = await latency(a, {"same": a, "other": b}, args.events, gap)
        print(f"  same host            {percentiles(got['same'])}")
        print(f"  other host ({b.mode}) {percentiles(got['other'])}")
        print(
            f"  rss {args.conversations} subscriptions {await open_subscriptions(a, args.conversations, server_pid)}"
        )
    print(f"(pid {os.getpid()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    run_async(main())
