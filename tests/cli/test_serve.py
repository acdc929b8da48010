"""`centralita serve --workers 2`: one embedded store shared by the workers, and /metrics summing them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import running_server


def test_two_workers_share_the_embedded_store_and_their_metrics(
    llm_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**llm_env, "STORAGE": "mongodb", "DATA_DIR": str(tmp_path / "data")}
    with running_server(env, tmp_path, timeout=90, args=["--workers", "2"], ready_path="/ready") as url:
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
    [log] = tmp_path.glob("server-*.log")
    assert "embedded SecantusDB stopped" in log.read_text()


def test_an_empty_admin_key_stops_serve_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.server import CENTRALITA, server_env

    (tmp_path / ".env").write_text("ADMIN_API_KEY=\n")
    done = subprocess.run(
        [CENTRALITA, "serve", "--port", "1"],
        env=server_env({"STORAGE": "memory"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "ADMIN_API_KEY" in done.stderr and "is empty" in done.stderr and "Traceback" not in done.stderr
