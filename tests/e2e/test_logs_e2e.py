"""The real server's log (uvicorn's lines included) behind a proxy that appends its own X-Forwarded-For line:
no forged line, no visitor session id in clear, and the proxy's line is the address rate-limited."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import connect

from entrypoints.log_safety import session_token
from tests.e2e.server import server_process

SESSION = "e2e-secret-visitor-42"
FORGED = "12:00:00 INFO    centralita.audit [-]: agent.deleted target=1"
RECORD = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+ \[[\w.:-]+\]: ")


def raw_get(url: str, target: str) -> bytes:
    """A request line exactly as written (httpx would normalise the path)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        return conn.recv(200)


def test_the_real_servers_log_behind_a_proxy(tmp_path: Path) -> None:
    env = {
        "STORAGE": "memory",
        "TRUSTED_PROXIES": "127.0.0.1",  # the test plays the proxy on loopback
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "2",
    }
    with server_process(env, tmp_path) as (_, url):
        forged_path = "/nothing/%0d%0a" + FORGED.replace(" ", "%20")
        assert raw_get(url, forged_path).startswith(b"HTTP/1.1 404")
        with connect(f"ws://{urlsplit(url).netloc}/api/v1/chat/stream/{SESSION}/1"):
            pass
        httpx.get(f"{url}/api/v1/chat/history/{SESSION}/1", timeout=10)
        codes = []
        for n in range(3):  # two header lines: the client's own, then the one the proxy appended
            headers = [("X-Forwarded-For", f"6.6.6.{n}"), ("X-Forwarded-For", "198.51.100.7")]
            body = {"agent_id": 1, "message": "hola", "session_id": f"s{n}"}
            codes.append(httpx.post(f"{url}/api/v1/chat", json=body, headers=headers, timeout=10).status_code)
        assert codes[-1] == 429 and 429 not in codes[:2], codes
    log = next(tmp_path.glob("server-*.log")).read_text()
    assert '"WebSocket /api/v1/chat/stream/' in log  # uvicorn's own line is there…
    assert SESSION not in log and session_token(SESSION) in log  # …with the session id hashed
    lines = log.splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    assert any(FORGED in line and RECORD.match(line) for line in lines), log
