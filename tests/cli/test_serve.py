"""`centralita serve --workers 2`: one embedded store shared by the workers, and /metrics summing them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.conftest import CENTRALITA
from tests.e2e.server import free_port


def test_two_workers_share_the_embedded_store_and_their_metrics(
    llm_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "LLM_", "MONGODB_", "PROMETHEUS_"))
    }
    env.update({**llm_env, "STORAGE": "mongodb", "DATA_DIR": str(tmp_path / "data")})
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [CENTRALITA, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.3)
        for _ in range(6):  # new connections: the kernel spreads them over both workers
            with httpx.Client(timeout=30) as client:
                r = client.post(
                    f"{url}/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": "w-2"}
                )
                assert r.status_code == 200, r.text
        [conversation] = httpx.get(f"{url}/api/v1/conversations", params={"session_id": "w-2"}).json()
        assert conversation["message_count"] == 12  # every worker wrote to the same store
        metrics = httpx.get(f"{url}/metrics").text
        line = 'centralita_chat_turns_total{agent="1",channel="rest",code="",outcome="complete"}'
        assert f"{line} 6.0" in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    assert "embedded SecantusDB stopped" in (tmp_path / "serve.log").read_text()
