"""Slow senders against the real server (uvicorn): headers and bodies that trickle in are cut off.

Headers that take over REQUEST_HEADER_TIMEOUT_SECONDS get the connection closed (the HTTP protocol of
entrypoints/http/server_protocols.py); a body slower than REQUEST_BODY_TIMEOUT_SECONDS gets
`408 request_timeout` and a close (entrypoints/http/body_timeout.py); a slow but steady upload still works.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import running_server

HEADER_TIMEOUT, BODY_TIMEOUT = 2.0, 3.0


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    env = {
        "STORAGE": "memory",
        "REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    }
    with running_server(env, Path(tmp_path_factory.mktemp("slowloris"))) as url:
        yield int(url.rsplit(":", 1)[1])


def until_closed(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after `limit` seconds)."""
    sock.settimeout(limit)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def agent_request(body: bytes, length: int | None = None) -> bytes:
    return (
        f"POST /api/v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode()


def test_partial_headers_are_closed_within_the_header_timeout(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for i in range(20):  # one header line a second, never the blank line: slowloris
            time.sleep(0.5)
            try:
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
            except OSError:
                break
        received = until_closed(sock, 10)
        elapsed = time.monotonic() - started
    assert b"200" not in received
    assert HEADER_TIMEOUT - 0.5 < elapsed < HEADER_TIMEOUT + 6, elapsed


def test_a_stalled_body_gets_408_and_a_close_within_the_body_timeout(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        sock.sendall(agent_request(b"", length=1000) + b'{"name": "sl')
        received = until_closed(sock, 15)
        elapsed = time.monotonic() - started
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received
    assert json.loads(body)["code"] == "request_timeout" and json.loads(body)["detail"]
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + 6, elapsed


def test_a_slow_but_steady_upload_still_works(port: int) -> None:
    body = json.dumps({"name": "Steady", "system_prompt": "Answer briefly." + " " * 400}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(agent_request(body))
        for i in range(0, len(body), 100):  # about 1.5 s in all, under the body timeout
            sock.sendall(body[i : i + 100])
            time.sleep(0.3)
        sock.settimeout(10)
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 201"), head
