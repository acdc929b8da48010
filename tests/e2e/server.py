"""Starts the real `centralita serve` (uvicorn) as a child process on a free loopback port, for e2e tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

CENTRALITA = str(Path(sys.executable).parent / "centralita")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(env: dict[str, str]) -> dict[str, str]:
    """The test's settings over this process's environment, minus ambient LLM, Mongo and metrics settings."""
    ambient = ("GROQ_", "LLM_", "MONGODB_", "PROMETHEUS_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(ambient)}, **env}


@contextmanager
def server_process(
    env: dict[str, str],
    cwd: Path,
    timeout: float = 60.0,
    args: Sequence[str] = (),
    ready_path: str = "/health",
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Yields the process and its base URL once `ready_path` answers 200; stops it (SIGTERM, then SIGKILL)
    at the end unless it has exited already.

    `args` are extra `centralita serve` options (e.g. `--workers 2`); the log is `cwd/server-<port>.log`.
    """
    port = free_port()
    log = (cwd / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [CENTRALITA, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=server_env(env),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {_tail(cwd / log.name)}")
            try:
                if httpx.get(f"{url}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {timeout}s: {_tail(cwd / log.name)}")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@contextmanager
def running_server(
    env: dict[str, str],
    cwd: Path,
    timeout: float = 60.0,
    args: Sequence[str] = (),
    ready_path: str = "/health",
) -> Iterator[str]:
    """`server_process` for tests that need only the base URL."""
    with server_process(env, cwd, timeout, args, ready_path) as (_, url):
        yield url


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
