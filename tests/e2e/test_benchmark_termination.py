"""A benchmark stopped by SIGTERM (what `timeout` sends) stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> set[int]:
    parents = {int(p.name): _parent_of(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def kill_leftovers() -> Iterator[set[int]]:
    """Processes a failing test would leave behind, killed at the end."""
    pids: set[int] = set()
    yield pids
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_stops_the_benchmarks_children(tmp_path: Path, kill_leftovers: set[int]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "memory"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_leftovers.add(bench.pid)
    try:
        # the fake LLM, the bare proxy and Centralita (SIGTERM while it may still be starting)
        _wait_for(lambda: len(_descendants(bench.pid)) >= 3, timeout=120)
        children = _descendants(bench.pid)
        kill_leftovers.update(children)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) != 0
        _wait_for(lambda: not any(_alive(pid) for pid in children), timeout=10)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()


def test_sigterm_unwinds_an_async_benchmark(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from benchmarks.termination import run_async

        async def main() -> None:
            try:
                print("ready", flush=True)
                await asyncio.sleep(60)
            finally:
                await asyncio.sleep(0)
                open({str(marker)!r}, "w").close()

        run_async(main())
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 130
        assert marker.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
