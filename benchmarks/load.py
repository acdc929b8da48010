"""The load generator of the platform benchmark (asyncio + httpx + websockets), driven by `benchmarks/run.py`.

Four kinds of load, each returning a `Sample` (latencies, time to first token, turns, errors, wall time):

* `rest_turns`: `concurrency` clients each posting chat turns back to back for `seconds` (Centralita and the
  bare proxy: `POST /api/v1/chat`; the fake LLM itself: the same completion request, not streamed);
* `ws_sessions`: `sessions` WebSockets opened together, each then running `turns` turns one after the other,
  timing the first `token` frame and checking the contract (seq strictly increasing, the token pieces
  concatenated equal `end.answer`);
* `llm_streams`: the same number of streamed completions sent straight to the fake LLM, timing its first
  content chunk — the LLM's own time to first token at that concurrency;
* `idle_sockets`: `count` WebSockets opened and held (the caller reads the server's RSS meanwhile).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import websockets

MODEL = "llama-3.1-8b-instant"
_decode = msgspec.json.Decoder().decode
_counter = itertools.count()

FAQ = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "support_faq.json"
QUESTIONS = tuple(q["question"] for q in json.loads(FAQ.read_text(encoding="utf-8"))["questions"])


def question() -> str:
    """A different text each time (a query embedding is never reused): the FAQ's visitor questions in turn,
    each with a counter, so that the server's query-vector cache never answers (the headline figures)."""
    n = next(_counter)
    return f"{QUESTIONS[n % len(QUESTIONS)]} (pedido {n})"


def repeated_question() -> str:
    """The FAQ's 63 questions over and over, verbatim: what the query-vector cache is for (quick questions,
    retries); reported apart (`*_repeated_messages`)."""
    return QUESTIONS[next(_counter) % len(QUESTIONS)]


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    turns: int = 0
    errors: int = 0
    frames: int = 0  # WebSocket token frames received
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Sample) -> None:
        self.latencies_ms += other.latencies_ms
        self.ttft_ms += other.ttft_ms
        self.turns += other.turns
        self.errors += other.errors
        self.frames += other.frames
        self.seconds += other.seconds
        self.notes += other.notes[:5]

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0

    def error(self, note: str) -> None:
        self.errors += 1
        if len(self.notes) < 5:
            self.notes.append(note)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if q == 50:
        return float(statistics.median(ordered))
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def _client(concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=60.0)


async def _for(seconds: float, concurrency: int, worker: Callable[[int, float], Awaitable[None]]) -> float:
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker(i, deadline) for i in range(concurrency)))
    return time.perf_counter() - started


async def rest_turns(
    base: str, concurrency: int, seconds: float, *, agent_id: int, tag: str, repeat: bool = False
) -> Sample:
    """Chat turns through Centralita or the bare proxy (`POST /api/v1/chat`); `repeat`: FAQ questions verbatim."""
    message = repeated_question if repeat else question
    sample = Sample()
    async with _client(concurrency) as client:

        async def worker(i: int, deadline: float) -> None:
            session = f"bench-{tag}-{i}"
            while time.perf_counter() < deadline:
                body = {"agent_id": agent_id, "message": message(), "session_id": session, "origin": "api"}
                start = time.perf_counter()
                try:
                    response = await client.post(f"{base}/api/v1/chat", json=body)
                except httpx.HTTPError as error:
                    sample.error(f"{type(error).__name__}: {error}")
                    continue
                if response.status_code != 200 or not response.json().get("answer"):
                    sample.error(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                sample.latencies_ms.append((time.perf_counter() - start) * 1000)
                sample.turns += 1

        sample.seconds = await _for(seconds, concurrency, worker)
    return sample


async def ask_each(base: str, agent_id: int, messages: tuple[str, ...], concurrency: int = 16) -> Sample:
    """Each message once through `POST /api/v1/chat` (to fill the query-vector cache before `repeat` runs)."""
    sample = Sample()
    pending = list(messages)
    async with _client(concurrency) as client:

        async def worker(i: int) -> None:
            while pending:
                body = {
                    "agent_id": agent_id,
                    "message": pending.pop(),
                    "session_id": f"prime-{i}",
                    "origin": "api",
                }
                response = await client.post(f"{base}/api/v1/chat", json=body)
                if response.status_code != 200:
                    sample.error(f"HTTP {response.status_code}")
                sample.turns += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return sample


def _completion(text: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": text},
        ],
    }
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


async def llm_turns(llm: str, key: str, concurrency: int, seconds: float) -> Sample:
    """The same turns sent straight to the fake LLM: its own latency at this concurrency."""
    sample = Sample()
    headers = {"Authorization": f"Bearer {key}"}
    async with _client(concurrency) as client:

        async def worker(i: int, deadline: float) -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.post(
                        f"{llm}/openai/v1/chat/completions",
                        json=_completion(question(), False),
                        headers=headers,
                    )
                except httpx.HTTPError as error:
                    sample.error(f"{type(error).__name__}: {error}")
                    continue
                if response.status_code != 200:
                    sample.error(f"HTTP {response.status_code}")
                    continue
                sample.latencies_ms.append((time.perf_counter() - start) * 1000)
                sample.turns += 1

        sample.seconds = await _for(seconds, concurrency, worker)
    return sample


async def llm_streams(llm: str, key: str, sessions: int, turns: int) -> Sample:
    """Streamed completions straight to the fake LLM, `sessions` at once: its own time to first token."""
    sample = Sample()
    headers = {"Authorization": f"Bearer {key}"}
    async with _client(sessions) as client:

        async def session(i: int) -> None:
            for _ in range(turns):
                start = time.perf_counter()
                first: float | None = None
                try:
                    async with client.stream(
                        "POST",
                        f"{llm}/openai/v1/chat/completions",
                        json=_completion(question(), True),
                        headers=headers,
                    ) as response:
                        async for line in response.aiter_lines():
                            if first is None and '"content":"' in line and '"content":""' not in line:
                                first = time.perf_counter()
                except httpx.HTTPError as error:
                    sample.error(f"{type(error).__name__}: {error}")
                    continue
                if first is None:
                    sample.error("no content")
                    continue
                sample.ttft_ms.append((first - start) * 1000)
                sample.latencies_ms.append((time.perf_counter() - start) * 1000)
                sample.turns += 1

        started = time.perf_counter()
        await asyncio.gather(*(session(i) for i in range(sessions)))
        sample.seconds = time.perf_counter() - started
    return sample


def _ws_url(base: str, session: str, agent_id: int) -> str:
    return f"{base.replace('http://', 'ws://')}/api/v1/chat/stream/{session}/{agent_id}"


async def _turn(socket: Any, sample: Sample) -> None:
    """One turn on an open socket: time to the first token frame, and the contract checked."""
    start = time.perf_counter()
    await socket.send(msgspec.json.encode({"message": question(), "origin": "web"}).decode())
    first: float | None = None
    pieces: list[str] = []
    last_seq = 0
    while True:
        frame = _decode(await socket.recv())
        seq = frame.get("seq", 0)
        if seq <= last_seq:
            sample.error(f"seq {seq} after {last_seq}")
        last_seq = seq
        kind = frame.get("type")
        if kind == "token":
            if first is None:
                first = time.perf_counter()
            pieces.append(frame["content"])
            sample.frames += 1
        elif kind == "end":
            if "".join(pieces) != frame["answer"]:
                sample.error("token pieces differ from end.answer")
                return
            break
        elif kind == "error":
            sample.error(f"error frame {frame.get('code')}: {frame.get('detail')}")
            return
    if first is None:
        sample.error("no token frame")
        return
    sample.ttft_ms.append((first - start) * 1000)
    sample.latencies_ms.append((time.perf_counter() - start) * 1000)
    sample.turns += 1


async def ws_sessions(base: str, sessions: int, turns: int, *, agent_id: int, tag: str) -> Sample:
    """`sessions` WebSockets opened first, then all running `turns` turns each at the same time."""
    sample = Sample()
    async with AsyncExitStack() as stack:
        sockets = await _open(stack, base, sessions, agent_id, f"ws-{tag}", sample)

        async def session(socket: Any) -> None:
            for _ in range(turns):
                try:
                    await _turn(socket, sample)
                except (websockets.WebSocketException, OSError) as error:
                    sample.error(f"{type(error).__name__}: {error}")
                    return

        started = time.perf_counter()
        await asyncio.gather(*(session(s) for s in sockets))
        sample.seconds = time.perf_counter() - started
    return sample


async def _open(
    stack: AsyncExitStack, base: str, count: int, agent_id: int, tag: str, sample: Sample, batch: int = 100
) -> list[Any]:
    sockets: list[Any] = []

    async def one(i: int) -> Any:
        try:
            return await stack.enter_async_context(
                websockets.connect(_ws_url(base, f"{tag}-{i}", agent_id), max_queue=None, open_timeout=30)
            )
        except (websockets.WebSocketException, OSError, TimeoutError) as error:
            sample.error(f"connect: {type(error).__name__}: {error}")
            return None

    for start in range(0, count, batch):
        opened = await asyncio.gather(*(one(i) for i in range(start, min(count, start + batch))))
        sockets += [s for s in opened if s is not None]
    return sockets


@asynccontextmanager
async def idle_sockets(base: str, count: int, *, agent_id: int, tag: str) -> AsyncIterator[Sample]:
    """Holds `count` open, idle WebSockets while the caller measures; `Sample.turns` = how many opened."""
    sample = Sample()
    async with AsyncExitStack() as stack:
        sockets = await _open(stack, base, count, agent_id, f"idle-{tag}", sample)
        sample.turns = len(sockets)
        yield sample
