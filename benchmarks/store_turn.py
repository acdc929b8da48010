"""Store benchmark: how fast the MongoDB adapters store messages and serve a chat turn's store calls.

Runs against the embedded SecantusDB (started in a temporary directory) unless ``--uri`` is given, and
reports, with journaled writes (``j: true``, the adapters' default) or without (``--journal off``):

* ``append`` throughput — messages per second stored by 1 task and by 20 concurrent tasks, each task on
  its own conversation;
* the latency of the store calls one chat turn makes (``application/chat.py``): open + recent(40) + append
  user + record visitor + append reply + update_message — p50 / p95 / max over many turns, run by
  ``--sessions`` concurrent visitors whose conversations grow as the benchmark goes.

Usage: ``python benchmarks/store_turn.py [--uri mongodb://…] [--turns 400] [--sessions 1,10] [--journal on|off|both]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.mongodb.conversations import MongoConversationRepository
from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.indexes import ensure_indexes
from adapters.mongodb.visitors import MongoVisitorRepository
from benchmarks.termination import run_async
from domain.clock import utc_now
from domain.conversations import Message, MessageStatus, Role, new_id
from domain.usage import Usage

HISTORY_MESSAGES = 40  # PromptBudget.history_messages


async def append_rate(conversations: MongoConversationRepository, tasks: int, seconds: float) -> float:
    """Messages per second appended by `tasks` concurrent tasks, each on its own conversation."""
    stop = time.perf_counter() + seconds
    counts = [0] * tasks

    async def run(task: int) -> None:
        conversation = await conversations.open(f"rate-{uuid.uuid4().hex}", 1, utc_now())
        while time.perf_counter() < stop:
            await conversations.append(Message(new_id(), conversation.id, Role.USER, "x" * 200))
            counts[task] += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(t) for t in range(tasks)))
    return sum(counts) / (time.perf_counter() - started)


async def turn(
    conversations: MongoConversationRepository, visitors: MongoVisitorRepository, session_id: str
) -> float:
    """The store calls of one chat turn, in order; returns seconds."""
    started = time.perf_counter()
    now = utc_now()
    conversation = await conversations.open(session_id, 1, now)
    await conversations.recent(conversation.id, HISTORY_MESSAGES)
    await conversations.append(Message(new_id(), conversation.id, Role.USER, "¿Cuál es el horario?"))
    await visitors.record_message(session_id, "web", now)
    reply = await conversations.append(
        Message(new_id(), conversation.id, Role.ASSISTANT, "", status=MessageStatus.INTERRUPTED, model="m")
    )
    await conversations.update_message(
        replace(reply, content="De 9 a 18 h." * 20, status=MessageStatus.COMPLETE, usage=Usage(900, 60, 960))
    )
    return time.perf_counter() - started


async def turn_latencies(db: AsyncDatabase[Any], journal: bool, turns: int, sessions: int) -> list[float]:
    conversations = MongoConversationRepository(db, journal=journal)
    visitors = MongoVisitorRepository(db, journal=journal)
    names = [f"visitor-{uuid.uuid4().hex[:8]}" for _ in range(sessions)]
    latencies: list[float] = []

    async def visitor(session_id: str) -> None:
        for _ in range(turns // sessions):
            latencies.append(await turn(conversations, visitors, session_id))

    await asyncio.gather(*(visitor(name) for name in names))
    return latencies


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms  (n={len(ms)})"


async def bench(uri: str, journals: list[bool], turns: int, sessions: list[int], seconds: float) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    try:
        await ensure_indexes(db)
        for journal in journals:
            label = "j:true " if journal else "j:false"
            conversations = MongoConversationRepository(db, journal=journal)
            for tasks in (1, 20):
                rate = await append_rate(conversations, tasks, seconds)
                print(f"[{label}] append, {tasks:2d} task(s): {rate:7.0f} messages/s")
            for count in sessions:
                latencies = await turn_latencies(db, journal, turns, count)
                print(f"[{label}] turn store calls, {count:2d} concurrent visitor(s): {summary(latencies)}")
    finally:
        await client.drop_database(db.name)
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uri", help="a MongoDB to measure (default: an embedded SecantusDB)")
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--sessions", default="1,10", help="concurrent visitors, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each append measurement")
    parser.add_argument(
        "--journal", choices=("on", "off", "both"), default="on", help="j:true writes (the default), or not"
    )
    args = parser.parse_args()
    journals = {"on": [True], "off": [False], "both": [True, False]}[args.journal]
    sessions = [int(s) for s in args.sessions.split(",")]
    if args.uri:
        await bench(args.uri, journals, args.turns, sessions, args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="centralita-bench-") as data:
        async with EmbeddedMongoServer(Path(data)) as server:
            await bench(server.uri, journals, args.turns, sessions, args.seconds)


if __name__ == "__main__":
    run_async(main())
