"""The platform benchmark of issue 7: overhead, streaming latency, concurrency, memory, cold start, retrieval.

    .venv/bin/python benchmarks/run.py [--quick] [--json PATH] [--only memory|mongodb]

Starts on loopback, as child processes with one uvicorn worker each: the fake LLM (`tests/fakes/fake_llm.py`:
50 ms to the first token, 500 tokens/s, 150-token answers), the bare proxy (`benchmarks/bare_proxy.py`) and
`centralita serve` — first with STORAGE=memory, then with the embedded MongoDB (no MONGODB_URI, a temporary
DATA_DIR) — each serving agent 2, which holds the support-FAQ knowledge (local retrieval). Rate limits and
the token quota are off. Every comparison is interleaved (LLM, bare, Centralita, then again in another
order) so that the drift of a shared machine hits all alike. Everything started is stopped at the end, on
errors, on Ctrl-C and on SIGTERM. Prints a table; `--json` writes every figure (the memory pass at the top level, the
MongoDB pass under "mongodb").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import load  # noqa: E402
from benchmarks.load import Sample, pct  # noqa: E402
from benchmarks.termination import stop_on_sigterm  # noqa: E402

PYTHON = sys.executable
CENTRALITA = str(Path(PYTHON).parent / "centralita")
KEY = "bench-key"
Getter = Callable[[dict[str, Any]], Any]
FAQ = ROOT / "tests" / "fixtures" / "support_faq.json"
TARGETS = {
    "overhead_p50_ms": ("<=", 5.0),
    "overhead_ratio_vs_bare_p50": ("<=", 1.5),
    "ws_ttft_ratio_vs_bare_p50@50": ("<=", 1.5),
    "turns_per_s_vs_bare@50": (">=", 0.9),
    "turns_per_s_vs_bare@200": (">=", 0.9),
    "errors": ("==", 0),
    "idle_ws_1000_rss_mb": ("<=", 300.0),
    "cold_start_s": ("<=", 3.0),
    "retrieval_10k_p95_ms": ("<=", 5.0),
}


@dataclass(frozen=True)
class Plan:
    rounds: int  # interleaved repetitions of every comparison
    rest_seconds: float
    ws_turns: int
    concurrencies: tuple[int, ...] = (50, 200)
    idle: int = 1000
    retrieval_chunks: int = 10_000
    retrieval_queries: int = 500
    without_retrieval_at: tuple[int, ...] = (50, 200)  # where the no-retrieval agent is measured too
    repeated_at: tuple[int, ...] = (50,)  # REST with the FAQ questions verbatim (the query-vector cache)
    idle_settle_s: float = 2.0  # idle sockets held this long before the RSS is read
    bare_idle_once: bool = False  # the bare proxy's idle RSS measured in the first pass only (it has no pass)


QUICK = Plan(
    rounds=1,
    rest_seconds=1.5,
    ws_turns=2,
    retrieval_queries=200,
    without_retrieval_at=(50,),
    idle_settle_s=1.0,
    bare_idle_once=True,
)
FULL = Plan(rounds=3, rest_seconds=8, ws_turns=2)


# --- processes ------------------------------------------------------------------------------------------


def raise_fd_limit() -> None:
    """1,000 WebSockets need 1,000 descriptors in the load generator and as many in the server."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def base_env() -> dict[str, str]:
    drop = (
        "GROQ_",
        "LLM_",
        "MONGODB_",
        "OPENAI_",
        "OLLAMA_",
        "PROMETHEUS_",
        "ADMIN_",
        "RATE_",
        "STORAGE",
        "DATA_DIR",
    )
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


class Process:
    """A child process in its own process group, its output in a log file; stopped when `stack` closes."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path, stack: ExitStack) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            args, env=env, cwd=logs, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        stack.callback(self.stop)  # at once: an interrupted wait for readiness stops it too

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log_text())
            if found:
                return found
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {pattern!r} within {timeout} s")

    def wait_healthy(self, url: str, timeout: float = 90) -> float:
        """Seconds from process start to `/health` answering 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(
            f"{self.name} did not answer /health within {timeout} s: {self.log_text()[-3000:]}"
        )

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 30 s; then whatever it left in its process group is killed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake_llm(stack: ExitStack, logs: Path) -> tuple[Process, str]:
    process = Process(
        "fake-llm",
        [
            PYTHON,
            "-m",
            "tests.fakes.fake_llm",
            "--port",
            "0",
            "--ttft-ms",
            "50",
            "--tokens-per-second",
            "500",
            "--answer-tokens",
            "150",
            "--api-key",
            KEY,
            "--record-limit",
            "1",
        ],
        {**base_env(), "PYTHONPATH": str(ROOT)},
        logs,
        stack,
    )
    url = process.wait_for_line(r"listening on (http://\S+)")[1]
    return process, url


def start_bare(stack: ExitStack, logs: Path, llm: str) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        "bare-proxy",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "benchmarks.bare_proxy:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {**base_env(), "PYTHONPATH": str(ROOT), "GROQ_API_KEY": KEY, "GROQ_BASE_URL": llm},
        logs,
        stack,
    )
    url = f"http://127.0.0.1:{port}"
    process.wait_healthy(url)
    return process, url


def start_centralita(
    stack: ExitStack, logs: Path, llm: str, storage: str, data_dir: Path | None
) -> tuple[Process, str, float]:
    port = free_port()
    env = {
        **base_env(),
        "STORAGE": storage,
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": llm,
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "0",
        "VISITOR_DAILY_TOKEN_QUOTA": "0",
        "WS_MAX_CONNECTIONS_PER_IP": "100000",  # every benchmark client comes from 127.0.0.1
        "VECTOR_SEARCH": "local",
    }
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    process = Process(
        f"centralita-{storage}",
        [CENTRALITA, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env,
        logs,
        stack,
    )
    url = f"http://127.0.0.1:{port}"
    return process, url, process.wait_healthy(url)


def seed_agent(url: str) -> tuple[int, int]:
    """An agent holding the support-FAQ knowledge (20 documents, about 50 chunks), and one without documents."""
    faq = json.loads(FAQ.read_text(encoding="utf-8"))
    with httpx.Client(base_url=url, timeout=120) as client:
        agent = client.post(
            "/api/v1/agents",
            json={
                "name": "Soporte",
                "system_prompt": "Eres el agente de soporte de una tienda en línea.",
                "max_tokens": 400,
            },
        )
        agent.raise_for_status()
        agent_id = int(agent.json()["id"])
        plain = (
            client.post(  # the same turn without retrieval: no documents (like agent 1 on a fresh install)
                "/api/v1/agents",
                json={"name": "Sin conocimiento", "system_prompt": "Eres un asistente.", "max_tokens": 400},
            )
        )
        plain.raise_for_status()
        for doc in faq["documents"]:
            client.post(
                f"/api/v1/agents/{agent_id}/documents", json={"title": doc["title"], "text": doc["text"]}
            ).raise_for_status()
    return agent_id, int(plain.json()["id"])


# --- measurements ---------------------------------------------------------------------------------------


NAMES = (
    "llm",
    "bare",
    "centralita",
    "no_retrieval",
    "repeated",
)  # no_retrieval: Centralita with an agent without documents; repeated: the FAQ agent, FAQ questions verbatim


def rotations(rounds: int, names: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """A B C, then C B A, …: each target runs early as often as late."""
    for r in range(rounds):
        yield names if r % 2 == 0 else tuple(reversed(names))


async def rest_comparison(
    plan: Plan, llm: str, bare: str, central: str, agents: tuple[int, int]
) -> dict[int, dict[str, Sample]]:
    results: dict[int, dict[str, Sample]] = {}
    primed = False
    for n in plan.concurrencies:
        concurrency = n
        merged = {name: Sample() for name in NAMES}
        for order in rotations(plan.rounds, NAMES):
            for name in order:
                if name == "no_retrieval" and n not in plan.without_retrieval_at:
                    continue
                if name == "repeated" and n not in plan.repeated_at:
                    continue
                if name == "repeated" and not primed:
                    # Steady state: the FAQ questions asked once before (as a widget's quick questions are).
                    await load.ask_each(central, agents[0], load.QUESTIONS)
                    primed = True
                if name == "llm":
                    sample = await load.llm_turns(llm, KEY, concurrency, plan.rest_seconds)
                else:
                    base = bare if name == "bare" else central
                    agent_id = agents[1] if name == "no_retrieval" else agents[0]
                    sample = await load.rest_turns(
                        base,
                        concurrency,
                        plan.rest_seconds,
                        agent_id=agent_id,
                        tag=f"{name}{concurrency}",
                        repeat=name == "repeated",
                    )
                merged[name].merge(sample)
                print(f"  REST {concurrency:>3} clients {name:<10} {describe(sample)}", flush=True)
        results[concurrency] = merged
    return results


async def ws_comparison(
    plan: Plan, llm: str, bare: str, central: str, agents: tuple[int, int]
) -> dict[int, dict[str, Sample]]:
    results: dict[int, dict[str, Sample]] = {}
    for n in plan.concurrencies:
        sessions = n
        merged = {name: Sample() for name in NAMES}
        for r, order in enumerate(rotations(plan.rounds, NAMES)):
            for name in order:
                if (name == "no_retrieval" and n not in plan.without_retrieval_at) or name == "repeated":
                    continue
                if name == "llm":
                    sample = await load.llm_streams(llm, KEY, sessions, plan.ws_turns)
                else:
                    base = bare if name == "bare" else central
                    agent_id = agents[1] if name == "no_retrieval" else agents[0]
                    sample = await load.ws_sessions(
                        base, sessions, plan.ws_turns, agent_id=agent_id, tag=f"{name}{sessions}r{r}"
                    )
                merged[name].merge(sample)
                print(f"  WS   {sessions:>3} sessions {name:<10} {describe(sample)}", flush=True)
        results[sessions] = merged
    return results


async def idle_rss(
    plan: Plan, process: Process, url: str, agent_id: int, tag: str
) -> tuple[float, float, int]:
    before = process.rss_mb()
    async with load.idle_sockets(url, plan.idle, agent_id=agent_id, tag=tag) as sample:
        await asyncio.sleep(plan.idle_settle_s)
        during = process.rss_mb()
    return before, during, sample.turns


def describe(sample: Sample) -> str:
    text = f"{sample.turns:>5} turns {sample.turns_per_s:7.1f}/s  p50 {pct(sample.latencies_ms, 50):7.1f} ms"
    if sample.ttft_ms:
        text += f"  ttft p50 {pct(sample.ttft_ms, 50):6.1f} ms"
    if sample.frames:
        text += f"  {sample.frames / max(sample.turns, 1):5.1f} frames/turn"
    if sample.errors:
        text += f"  ERRORS {sample.errors}: {sample.notes[:2]}"
    return text


def retrieval(plan: Plan, mongodb: bool) -> dict[str, float]:
    """retrieval p50/p95 over 10,000 chunks without the query embedding, and the query embedding apart."""
    from adapters.knowledge.markdown import MarkdownRenderer
    from adapters.knowledge.memory import MemoryKnowledgeStore
    from adapters.langchain.embeddings import LangChainEmbedder
    from application.knowledge import EmbeddingRetriever
    from benchmarks.retrieval import fill, time_search
    from entrypoints.settings import Settings

    async def measure() -> dict[str, float]:
        spec = Settings.model_fields["embeddings_model"].default
        embedder = LangChainEmbedder.from_setting(spec, query_cache_size=0)  # every query computed
        dims = embedder.dimensions
        out: dict[str, float] = {}
        if mongodb:
            from pymongo import AsyncMongoClient

            from adapters.mongodb.embedded_server import EmbeddedMongoServer
            from adapters.mongodb.knowledge import MongoKnowledgeStore

            with tempfile.TemporaryDirectory() as data:
                server = EmbeddedMongoServer(Path(data))
                uri = await server.start()
                client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
                try:
                    # Searched with the version check every second, as a worker does.
                    store = MongoKnowledgeStore(client["bench"], check_interval=1.0)
                    await store.load()
                    await fill(store, plan.retrieval_chunks, dims, per_document=200)
                    await time_search(store, dims, 20)
                    samples = await time_search(store, dims, plan.retrieval_queries)
                finally:
                    await client.close()
                    await server.stop()
        else:
            store = MemoryKnowledgeStore()
            await fill(store, plan.retrieval_chunks, dims, per_document=200)
            await time_search(store, dims, 20)
            samples = await time_search(store, dims, plan.retrieval_queries)
        out["retrieval_10k_p50_ms"] = pct(samples, 50)
        out["retrieval_10k_p95_ms"] = pct(samples, 95)
        timings = []
        for i in range(60):
            start = time.perf_counter()
            await embedder.embed_query(load.question() + f" {i}")
            timings.append((time.perf_counter() - start) * 1000)
        timings = timings[10:]
        out["query_embedding_p50_ms"] = pct(timings, 50)
        out["query_embedding_p95_ms"] = pct(timings, 95)
        # 32 different questions at once: one micro-batch (per query: the wall time / 32), best of 3 rounds.
        rounds = []
        for _ in range(3):
            start = time.perf_counter()
            await asyncio.gather(*(embedder.embed_query(load.question()) for _ in range(32)))
            rounds.append((time.perf_counter() - start) * 1000 / 32)
        out["query_embedding_batched_32_ms_per_query"] = round(min(rounds), 2)
        # A question asked again (the query-vector cache), and an agent without documents (nothing embedded).
        cached = LangChainEmbedder.from_setting(spec)
        await cached.embed_query("¿Cuál es el horario de atención?")
        hits = []
        for _ in range(200):
            start = time.perf_counter()
            await cached.embed_query("¿Cuál es el horario de atención?")
            hits.append((time.perf_counter() - start) * 1000)
        out["query_embedding_cached_p50_ms"] = round(pct(hits, 50), 4)
        retriever = EmbeddingRetriever(MemoryKnowledgeStore(), embedder, MarkdownRenderer())
        skipped = []
        for _ in range(200):
            start = time.perf_counter()
            await retriever.retrieve(1, load.question(), 4)
            skipped.append((time.perf_counter() - start) * 1000)
        out["retrieval_without_documents_p50_ms"] = round(pct(skipped, 50), 4)
        return out

    return asyncio.run(measure())


def figures(rest: dict[int, dict[str, Sample]], ws: dict[int, dict[str, Sample]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    r50 = rest[50]
    llm50 = r50["llm"].latencies_ms
    over = pct(r50["centralita"].latencies_ms, 50) - pct(llm50, 50)
    bare_over = pct(r50["bare"].latencies_ms, 50) - pct(llm50, 50)
    out["overhead_p50_ms"] = round(over, 2)
    out["overhead_p99_ms"] = round(pct(r50["centralita"].latencies_ms, 99) - pct(llm50, 99), 2)
    out["bare_overhead_p50_ms"] = round(bare_over, 2)
    out["bare_overhead_p99_ms"] = round(pct(r50["bare"].latencies_ms, 99) - pct(llm50, 99), 2)
    out["overhead_ratio_vs_bare_p50"] = round(over / bare_over, 2) if bare_over > 0 else None
    plain = pct(r50["no_retrieval"].latencies_ms, 50) - pct(llm50, 50)
    out["overhead_p50_ms_without_retrieval"] = round(plain, 2)
    out["overhead_ratio_vs_bare_p50_without_retrieval"] = (
        round(plain / bare_over, 2) if bare_over > 0 else None
    )
    repeated = pct(r50["repeated"].latencies_ms, 50) - pct(llm50, 50)
    out["overhead_p50_ms_repeated_messages"] = round(repeated, 2)
    out["overhead_p99_ms_repeated_messages"] = round(
        pct(r50["repeated"].latencies_ms, 99) - pct(llm50, 99), 2
    )
    out["llm_latency_p50_ms"] = {}
    for key in (
        "ws_ttft_over_llm_p50_ms",
        "bare_ws_ttft_over_llm_p50_ms",
        "ws_ttft_ratio_vs_bare_p50",
        "llm_ttft_p50_ms",
        "ws_frames_per_turn",
        "bare_ws_frames_per_turn",
        "ws_turns_per_s",
        "bare_ws_turns_per_s",
        "ws_errors",
        "bare_ws_errors",
        "turns_per_s",
        "bare_turns_per_s",
        "llm_turns_per_s",
        "turns_per_s_ratio_vs_bare",
        "errors",
        "bare_errors",
        "latency_p50_ms",
        "bare_latency_p50_ms",
        "ws_ttft_over_llm_p50_ms_without_retrieval",
        "ws_ttft_ratio_vs_bare_p50_without_retrieval",
        "ws_frames_per_turn_without_retrieval",
        "turns_per_s_without_retrieval",
        "turns_per_s_repeated_messages",
    ):
        out[key] = {}
    for n, s in ws.items():
        llm_ttft = pct(s["llm"].ttft_ms, 50)
        mine = pct(s["centralita"].ttft_ms, 50) - llm_ttft
        theirs = pct(s["bare"].ttft_ms, 50) - llm_ttft
        out["llm_ttft_p50_ms"][str(n)] = round(llm_ttft, 2)
        out["ws_ttft_over_llm_p50_ms"][str(n)] = round(mine, 2)
        out["bare_ws_ttft_over_llm_p50_ms"][str(n)] = round(theirs, 2)
        out["ws_ttft_ratio_vs_bare_p50"][str(n)] = round(mine / theirs, 2) if theirs > 0 else None
        plain_ws = pct(s["no_retrieval"].ttft_ms, 50) - llm_ttft  # nan where not measured
        out["ws_ttft_over_llm_p50_ms_without_retrieval"][str(n)] = round(plain_ws, 2)
        out["ws_ttft_ratio_vs_bare_p50_without_retrieval"][str(n)] = (
            round(plain_ws / theirs, 2) if theirs > 0 else None
        )
        out["ws_frames_per_turn_without_retrieval"][str(n)] = round(
            s["no_retrieval"].frames / max(s["no_retrieval"].turns, 1), 1
        )
        out["ws_frames_per_turn"][str(n)] = round(s["centralita"].frames / max(s["centralita"].turns, 1), 1)
        out["bare_ws_frames_per_turn"][str(n)] = round(s["bare"].frames / max(s["bare"].turns, 1), 1)
        out["ws_turns_per_s"][str(n)] = round(s["centralita"].turns_per_s, 1)
        out["bare_ws_turns_per_s"][str(n)] = round(s["bare"].turns_per_s, 1)
        out["ws_errors"][str(n)] = s["centralita"].errors
        out["bare_ws_errors"][str(n)] = s["bare"].errors
    for n, s in rest.items():
        out["llm_latency_p50_ms"][str(n)] = round(pct(s["llm"].latencies_ms, 50), 1)
        out["latency_p50_ms"][str(n)] = round(pct(s["centralita"].latencies_ms, 50), 1)
        out["bare_latency_p50_ms"][str(n)] = round(pct(s["bare"].latencies_ms, 50), 1)
        out["turns_per_s"][str(n)] = round(s["centralita"].turns_per_s, 1)
        out["bare_turns_per_s"][str(n)] = round(s["bare"].turns_per_s, 1)
        for key, name in (
            ("turns_per_s_without_retrieval", "no_retrieval"),
            ("turns_per_s_repeated_messages", "repeated"),
        ):
            out[key][str(n)] = round(s[name].turns_per_s, 1) if s[name].turns else None  # None: not measured
        out["llm_turns_per_s"][str(n)] = round(s["llm"].turns_per_s, 1)
        ratio = s["centralita"].turns_per_s / s["bare"].turns_per_s if s["bare"].turns_per_s else None
        out["turns_per_s_ratio_vs_bare"][str(n)] = round(ratio, 3) if ratio is not None else None
        out["errors"][str(n)] = sum(s[k].errors for k in ("centralita", "no_retrieval", "repeated")) + sum(
            ws[n][k].errors for k in ("centralita", "no_retrieval")
        )
        out["bare_errors"][str(n)] = s["bare"].errors + ws[n]["bare"].errors
    return out


BARE_IDLE: list[Any] = []  # the bare proxy's (before, during, opened) idle RSS


def run_pass(plan: Plan, storage: str, logs: Path, llm: str, bare: Process, bare_url: str) -> dict[str, Any]:
    print(f"\n== Centralita, STORAGE={storage} ==", flush=True)
    data_dir = Path(tempfile.mkdtemp(prefix="centralita-bench-")) if storage == "mongodb" else None
    with ExitStack() as stack:
        process, url, cold = start_centralita(stack, logs, llm, storage, data_dir)
        out: dict[str, Any] = {"storage": storage, "cold_start_s": round(cold, 2)}
        found = re.search(r"embedded SecantusDB ready .* after ([\d.]+) s", process.log_text())
        out["embedded_db_start_s"] = float(found[1]) if found else None
        if found:
            out["cold_start_without_db_s"] = round(cold - float(found[1]), 2)
        print(f"  cold start {cold:.2f} s (embedded DB {out['embedded_db_start_s']})", flush=True)
        agents = seed_agent(url)
        agent_id = agents[0]
        asyncio.run(warm_up(llm, bare_url, url, agent_id))
        rest = asyncio.run(rest_comparison(plan, llm, bare_url, url, agents))
        ws = asyncio.run(ws_comparison(plan, llm, bare_url, url, agents))
        out.update(figures(rest, ws))
        before, during, opened = asyncio.run(idle_rss(plan, process, url, agent_id, storage))
        if not (plan.bare_idle_once and BARE_IDLE):
            BARE_IDLE[:] = asyncio.run(idle_rss(plan, bare, bare_url, agent_id, storage))
        bare_before, bare_during, bare_opened = BARE_IDLE
        out["idle_ws_1000_rss_mb"] = round(during, 1)
        out["rss_before_idle_mb"] = round(before, 1)
        out["bare_idle_ws_1000_rss_mb"] = round(bare_during, 1)
        out["idle_ws_opened"] = opened
        print(
            f"  1000 idle WebSockets: RSS {before:.0f} -> {during:.0f} MB ({opened} open); "
            f"bare {bare_before:.0f} -> {bare_during:.0f} MB ({bare_opened})",
            flush=True,
        )
    if data_dir is not None:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
    started_at = time.perf_counter()
    out.update(retrieval(plan, storage == "mongodb"))
    print(
        f"  retrieval over {plan.retrieval_chunks} chunks: p95 {out['retrieval_10k_p95_ms']:.2f} ms, "
        f"query embedding p95 {out['query_embedding_p95_ms']:.1f} ms ({time.perf_counter() - started_at:.0f} s)",
        flush=True,
    )
    return out


async def warm_up(llm: str, bare: str, central: str, agent_id: int) -> None:
    await load.llm_turns(llm, KEY, 4, 0.5)
    await load.rest_turns(bare, 4, 0.5, agent_id=agent_id, tag="warm")
    await load.rest_turns(central, 4, 0.5, agent_id=agent_id, tag="warm")
    await load.ws_sessions(bare, 4, 1, agent_id=agent_id, tag="warm")
    await load.ws_sessions(central, 4, 1, agent_id=agent_id, tag="warm")


# --- report ---------------------------------------------------------------------------------------------


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    def value(key: str) -> Any:
        name, _, at = key.partition("@")
        if name == "turns_per_s_vs_bare":
            return result["turns_per_s_ratio_vs_bare"][at]
        if name == "errors":
            return sum(result["errors"].values())
        found: Any = result.get(name)
        return found[at] if at else found

    out: dict[str, bool | None] = {}
    for key, (op, limit) in TARGETS.items():
        v = value(key)
        out[key] = (
            None if v is None else (v <= limit if op == "<=" else v >= limit if op == ">=" else v == limit)
        )
    return out


ROWS: tuple[tuple[str, str, str | None, str | None, str], ...] = (
    # label, key, the bare proxy's key, concurrency, target
    ("REST overhead p50 (ms)", "overhead_p50_ms", "bare_overhead_p50_ms", None, "≤ 5"),
    ("REST overhead p99 (ms)", "overhead_p99_ms", "bare_overhead_p99_ms", None, ""),
    ("REST overhead ratio vs bare p50", "overhead_ratio_vs_bare_p50", None, None, "≤ 1.5"),
    ("  without retrieval: overhead p50", "overhead_p50_ms_without_retrieval", None, None, ""),
    ("  FAQ questions verbatim: p50", "overhead_p50_ms_repeated_messages", None, None, ""),
    ("WS TTFT over LLM p50 @50 (ms)", "ws_ttft_over_llm_p50_ms", "bare_ws_ttft_over_llm_p50_ms", "50", ""),
    ("WS TTFT ratio vs bare @50", "ws_ttft_ratio_vs_bare_p50", None, "50", "≤ 1.5"),
    ("  without retrieval: ratio @50", "ws_ttft_ratio_vs_bare_p50_without_retrieval", None, "50", ""),
    ("WS TTFT over LLM p50 @200 (ms)", "ws_ttft_over_llm_p50_ms", "bare_ws_ttft_over_llm_p50_ms", "200", ""),
    ("WS TTFT ratio vs bare @200", "ws_ttft_ratio_vs_bare_p50", None, "200", ""),
    ("  without retrieval: ratio @200", "ws_ttft_ratio_vs_bare_p50_without_retrieval", None, "200", ""),
    ("WS token frames per turn @50", "ws_frames_per_turn", "bare_ws_frames_per_turn", "50", ""),
    ("WS token frames per turn @200", "ws_frames_per_turn", "bare_ws_frames_per_turn", "200", ""),
    ("REST turns/s @50", "turns_per_s", "bare_turns_per_s", "50", "≥ 90 % of bare"),
    ("  without retrieval @50", "turns_per_s_without_retrieval", None, "50", ""),
    ("  FAQ questions verbatim @50", "turns_per_s_repeated_messages", None, "50", ""),
    ("REST turns/s @200", "turns_per_s", "bare_turns_per_s", "200", "≥ 90 % of bare"),
    ("  without retrieval @200", "turns_per_s_without_retrieval", None, "200", ""),
    ("errors @50", "errors", "bare_errors", "50", "0"),
    ("errors @200", "errors", "bare_errors", "200", "0"),
    ("RSS, 1000 idle WebSockets (MB)", "idle_ws_1000_rss_mb", "bare_idle_ws_1000_rss_mb", None, "≤ 300"),
    ("  RSS before they open (MB)", "rss_before_idle_mb", None, None, ""),
    ("cold start to /health (s)", "cold_start_s", None, None, "≤ 3"),
    ("  of which embedded DB start (s)", "embedded_db_start_s", None, None, ""),
    ("retrieval 10k chunks p95 (ms)", "retrieval_10k_p95_ms", None, None, "≤ 5"),
    ("query embedding p95 (ms, apart)", "query_embedding_p95_ms", None, None, ""),
    ("  per query in a batch of 32 (ms)", "query_embedding_batched_32_ms_per_query", None, None, ""),
    ("  asked again: cache hit p50 (ms)", "query_embedding_cached_p50_ms", None, None, ""),
    ("retrieval, agent without documents p50 (ms)", "retrieval_without_documents_p50_ms", None, None, ""),
)


def table(results: dict[str, dict[str, Any]]) -> str:
    def cell(result: dict[str, Any], key: str | None, at: str | None) -> str:
        if key is None:
            return "–"
        value = result.get(key)
        return _fmt(value[at] if at is not None and isinstance(value, dict) else value)

    passes = list(results)
    header = f"{'figure':<36}" + "".join(f"{p:>11}{'bare':>9}" for p in passes) + "  target"
    lines = [header, "-" * (len(header) + 14)]
    for label, key, bare_key, at, target in ROWS:
        cells = "".join(f"{cell(results[p], key, at):>11}{cell(results[p], bare_key, at):>9}" for p in passes)
        lines.append(f"{label:<36}{cells}  {target}")
    return "\n".join(lines)


def _finite(value: Any) -> Any:
    """NaN (a figure not measured in this mode) as JSON null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine() -> dict[str, Any]:
    model = ""
    with_cpu = Path("/proc/cpuinfo")
    if with_cpu.exists():
        found = re.search(r"model name\s*:\s*(.+)", with_cpu.read_text())
        model = found[1] if found else ""
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round per comparison (under 4 minutes)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--only", choices=("memory", "mongodb"), help="run one storage pass only")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    raise_fd_limit()
    stop_on_sigterm()
    began = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="centralita-bench-logs-") as tmp, ExitStack() as stack:
        logs = Path(tmp)
        _, llm = start_fake_llm(stack, logs)
        bare, bare_url = start_bare(stack, logs, llm)
        for storage in ("memory", "mongodb"):
            if args.only in (None, storage):
                results[storage] = run_pass(plan, storage, logs, llm, bare, bare_url)
                results[storage]["targets_met"] = verdicts(results[storage])
    print("\n" + table(results))
    for storage, result in results.items():
        missed = [k for k, ok in result["targets_met"].items() if ok is False]
        print(f"{storage}: targets missed: {', '.join(missed) or 'none'}")
    elapsed = time.perf_counter() - began
    print(f"benchmark took {elapsed:.0f} s")
    if args.json:
        first = results.get("memory") or next(iter(results.values()))
        document = {
            **first,
            "mongodb": results.get("mongodb"),
            "machine": machine(),
            "plan": plan.__dict__,
            "elapsed_s": round(elapsed, 1),
        }
        args.json.write_text(json.dumps(_finite(document), indent=2, ensure_ascii=False))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
