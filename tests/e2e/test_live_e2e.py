"""Live conversations through the real server (uvicorn, MongoDB): a visitor's TCP connection cut mid-answer
resumes with the rest exactly once; SSE reattaches with GET and Last-Event-ID; the visitor's socket on host B
follows a turn run on host A of one MongoDB."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from entrypoints.cli.serve import SharedEmbeddedStore
from tests.browser.servers import TcpProxy
from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer

KEY = "live-key"


@pytest.fixture(scope="module")
def fake_groq() -> Iterator[FakeLLMServer]:
    # ~1.5 s per answer: long enough to cut it in the middle
    with FakeLLMServer(api_keys=KEY, answer_tokens=30, tokens_per_second=20).run_in_thread() as server:
        yield server


def _env(fake_groq: FakeLLMServer, **extra: str) -> dict[str, str]:
    return {
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": str(fake_groq.base_url),
        "STORAGE": "mongodb",
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def server(fake_groq: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("live")
    with running_server(_env(fake_groq, DATA_DIR=str(data / "data")), data) as url:
        yield url


def _socket(url: str, session: str) -> ClientConnection:
    ws_url = url.replace("http://", "ws://", 1)
    return connect(f"{ws_url}/api/v1/chat/stream/{session}/1", open_timeout=10, max_size=2**24)


def _recv(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.recv(timeout=20))
    return event


def _until_end(ws: ClientConnection) -> list[dict[str, Any]]:
    events = [_recv(ws)]
    while events[-1]["type"] not in ("end", "error"):
        events.append(_recv(ws))
    return events


def _answer(events: list[dict[str, Any]]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "token")


def test_a_cut_tcp_connection_resumes_the_answer_exactly_once(server: str) -> None:
    proxy = TcpProxy()
    proxy.upstream = ("127.0.0.1", int(server.rsplit(":", 1)[1]))
    try:
        ws = _socket(proxy.url, "e2e-cut")
        ws.send(json.dumps({"message": "cuéntame algo largo"}))
        seen = [_recv(ws) for _ in range(4)]
        assert [e["type"] for e in seen] == ["visitor_message", "start", "sources", "token"]
        assert proxy.sever() >= 1  # the visitor's network drops mid-answer
        time.sleep(0.3)
    finally:
        proxy.close()
    with _socket(server, "e2e-cut") as ws:
        ws.send(json.dumps({"type": "resume", "after_event_id": seen[-1]["event_id"]}))
        rest = _until_end(ws)
    assert rest[0]["event_id"] > seen[-1]["event_id"]  # tokens replayed together may come merged
    assert rest[-1]["type"] == "end" and _answer(seen + rest) == rest[-1]["answer"]
    history = httpx.get(f"{server}/api/v1/chat/history/e2e-cut/1", timeout=10).json()
    assert history[-1]["status"] == "complete" and history[-1]["content"] == rest[-1]["answer"]


def test_sse_reattaches_with_get_and_with_last_event_id(server: str) -> None:
    with _socket(server, "e2e-sse") as ws:
        ws.send(json.dumps({"message": "hola"}))
        sent = _until_end(ws)
    follow = f"{server}/api/v1/chat/stream/e2e-sse/1"
    for params, headers in (({"after_event_id": 2}, {}), ({}, {"Last-Event-ID": "2"})):
        events: list[dict[str, Any]] = []
        ids: list[int] = []
        with httpx.stream("GET", follow, params=params, headers=headers, timeout=20) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                elif line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if events[-1]["type"] == "end":
                        break
        assert ids == [e["event_id"] for e in events]
        assert [e["type"] for e in events if e["type"] != "token"] == [
            e["type"] for e in sent[2:] if e["type"] != "token"
        ]
        assert _answer(events) == _answer(sent)


def test_the_visitors_socket_on_host_b_follows_a_turn_run_on_host_a(
    fake_groq: FakeLLMServer, tmp_path: Path
) -> None:
    store = SharedEmbeddedStore(tmp_path / "data")
    uri = store.start()
    try:
        env = _env(fake_groq, MONGODB_URI=uri)
        with running_server(env, tmp_path) as a, running_server(env, tmp_path) as b:
            followed: list[dict[str, Any]] = []
            with _socket(b, "two-hosts") as on_b:
                on_b.send(json.dumps({"type": "resume", "after_event_id": 0}))
                reader = threading.Thread(target=lambda: followed.extend(_until_end(on_b)))
                reader.start()
                time.sleep(0.3)
                with _socket(a, "two-hosts") as on_a:
                    on_a.send(json.dumps({"message": "pregunto en el host A"}))
                    sent = _until_end(on_a)
                reader.join(20)
            assert followed and followed[0] == {**sent[0], "seq": followed[0]["seq"]}
            assert [e["event_id"] for e in followed if e["type"] != "token"] == [
                e["event_id"] for e in sent if e["type"] != "token"
            ]
            assert _answer(followed) == _answer(sent) == sent[-1]["answer"]
    finally:
        store.stop()
