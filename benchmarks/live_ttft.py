"""WebSocket time to first token and turns/s through the conversation feed, side by side (issue 13's target).

    PYTHONPATH=. .venv/bin/python benchmarks/live_ttft.py [memory|mongodb] [--sessions 50] [--turns 2]
        [--rounds 3] [--before PATH]

Starts the fake LLM (50 ms to the first token, 500 tokens/s, 150 tokens), the bare proxy and `centralita
serve` of this checkout on loopback (embedded SecantusDB for `mongodb`); with `--before PATH` also the server
of another checkout of the project (e.g. `git worktree add --detach /tmp/before 94f5c04`, the last commit
before issue 13) on the same store kind, each with its own data directory. Each round opens `--sessions`
WebSockets on every target in turn (order rotated between rounds) and runs `--turns` turns on each at once,
on an agent without documents (no embedding on the path). Prints p50 TTFT, p50 turn time, turns/s and their
ratios to the bare proxy, which is what to compare: the machine's load moves the absolute times; and the
server's CPU time per turn (from /proc, its embedded SecantusDB child included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import load  # noqa: E402
from benchmarks.load import Sample, pct  # noqa: E402
from benchmarks.run import (  # noqa: E402
    PYTHON,
    Process,
    base_env,
    free_port,
    raise_fd_limit,
    rotations,
    start_bare,
    start_fake_llm,
)


def start_server(
    stack: ExitStack, logs: Path, name: str, root: Path, llm: str, storage: str
) -> tuple[Process, str]:
    """`centralita serve` of the checkout at `root` (its modules first on the path)."""
    port = free_port()
    env = {
        **base_env(),
        "PYTHONPATH": str(root),
        "STORAGE": storage,
        "DATA_DIR": str(logs / f"data-{name}"),
        "GROQ_API_KEY": "bench-key",
        "GROQ_BASE_URL": llm,
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "0",
        "VISITOR_DAILY_TOKEN_QUOTA": "0",
        "WS_MAX_CONNECTIONS_PER_IP": "100000",
    }
    command = [PYTHON, "-c", "from entrypoints.cli import main; main()", "serve", "--host", "127.0.0.1"]
    process = Process(name, [*command, "--port", str(port), "--workers", "1"], env, logs, stack)
    url = f"http://127.0.0.1:{port}"
    process.wait_healthy(url)
    return process, url


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the process and its descendants (the embedded SecantusDB)."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, fields in stats.items():
            if child not in family and int(fields[1]) in family:
                family.add(child)
                grew = True
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in family if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def agent_without_documents(url: str) -> int:
    response = httpx.post(f"{url}/api/v1/agents", json={"name": "bench", "system_prompt": "Responde."})
    response.raise_for_status()
    return int(response.json()["id"])


async def compare(
    targets: dict[str, tuple[str, int]], pids: dict[str, int], sessions: int, turns: int, rounds: int
) -> tuple[dict[str, Sample], dict[str, float]]:
    merged = {name: Sample() for name in targets}
    cpu = dict.fromkeys(targets, 0.0)  # server CPU seconds spent in the measured rounds
    for name, (url, agent_id) in targets.items():  # warm-up: imports, first connections, the store
        await load.ws_sessions(url, 5, 1, agent_id=agent_id, tag=f"warm-{name}")
    for r, order in enumerate(rotations(rounds, tuple(targets))):
        for name in order:
            url, agent_id = targets[name]
            used = cpu_seconds(pids[name])
            sample = await load.ws_sessions(url, sessions, turns, agent_id=agent_id, tag=f"{name}-r{r}")
            used = cpu_seconds(pids[name]) - used
            cpu[name] += used
            merged[name].merge(sample)
            print(f"  round {r + 1} {name:<7} {describe(sample, used)}", flush=True)
    return merged, cpu


def describe(sample: Sample, cpu: float) -> str:
    text = (
        f"{sample.turns:>4} turns {sample.turns_per_s:6.1f}/s  TTFT p50 {pct(sample.ttft_ms, 50):6.0f} ms"
        f"  turn p50 {pct(sample.latencies_ms, 50):6.0f} ms  {sample.frames / max(1, sample.turns):4.1f} frames/turn"
        f"  server CPU {1000 * cpu / max(1, sample.turns):5.1f} ms/turn"
    )
    if sample.errors:
        text += f"  ERRORS {sample.errors}: {sample.notes[:2]}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("storage", nargs="?", default="memory", choices=("memory", "mongodb"))
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to run beside this one")
    args = parser.parse_args()
    raise_fd_limit()
    logs = Path(tempfile.mkdtemp(prefix="live-ttft-"))
    with ExitStack() as stack:
        _, llm = start_fake_llm(stack, logs)
        bare_process, bare = start_bare(stack, logs, llm)
        targets: dict[str, tuple[str, int]] = {"bare": (bare, 0)}
        pids = {"bare": bare_process.pid}
        checkouts = {"now": ROOT, **({"before": args.before.resolve()} if args.before else {})}
        for name, root in checkouts.items():
            process, url = start_server(stack, logs, name, root, llm, args.storage)
            targets[name] = (url, agent_without_documents(url))
            pids[name] = process.pid
        results, cpu = asyncio.run(compare(targets, pids, args.sessions, args.turns, args.rounds))
    bare_sample = results["bare"]
    print(
        f"\n{args.storage}, {args.sessions} sessions x {args.turns} turns x {args.rounds} rounds (logs: {logs})"
    )
    for name, sample in results.items():
        ttft = pct(sample.ttft_ms, 50) / pct(bare_sample.ttft_ms, 50)
        turn = pct(sample.latencies_ms, 50) / pct(bare_sample.latencies_ms, 50)
        rate = sample.turns_per_s / bare_sample.turns_per_s if bare_sample.turns_per_s else float("nan")
        print(
            f"{name:<7} {describe(sample, cpu[name])}  | vs bare: TTFT {ttft:4.2f}x  turn {turn:4.2f}x  turns/s {rate:4.2f}"
        )


if __name__ == "__main__":
    main()
