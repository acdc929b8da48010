"""The real server (uvicorn) with the real ChatGroq adapter, against a local fake of Groq's HTTP API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer


@pytest.fixture(scope="module")
def fake_groq() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys="e2e-test-key", answer_tokens=12).run_in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def server(fake_groq: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "STORAGE": "memory",
        "GROQ_API_KEY": "e2e-test-key",
        "GROQ_BASE_URL": fake_groq.base_url,
    }
    with running_server(env, tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(autouse=True)
def _clean(fake_groq: FakeLLMServer) -> None:
    fake_groq.reset()


def test_the_readme_example_answers_through_groq(server: str, fake_groq: FakeLLMServer) -> None:
    r = httpx.post(
        f"{server}/api/v1/groq/chat",
        json={"id_agente": 1, "mensaje": "¿Cuál es tu nombre?", "session_id": "user-123", "origin": "web"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["respuesta"] == body["answer"] and body["answer"].startswith("Echo: ¿Cuál es tu nombre?")
    assert body["model"] == "groq:llama-3.1-8b-instant"
    assert body["usage"]["output_tokens"] == 12 and body["usage"]["total_tokens"] > 12
    sent = fake_groq.last_request
    assert sent is not None and sent["api"] == "groq" and sent["messages"][0]["role"] == "system"


async def read_turn(ws: websockets.ClientConnection) -> list[dict]:
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 30))
        events.append(event)
        if event["type"] in ("end", "error"):
            return events


async def test_websocket_turns_stream_and_are_kept(server: str, fake_groq: FakeLLMServer) -> None:
    ws_url = server.replace("http://", "ws://") + "/api/v1/chat/stream/e2e-ws/1"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"message": "me llamo Ana", "origin": "whatsapp"}))
        first = await read_turn(ws)
        await ws.send(json.dumps({"message": "¿cómo me llamo?", "origin": "web"}))
        second = await read_turn(ws)

    for turn in (first, second):
        assert [e["type"] for e in turn[:3]] == ["visitor_message", "start", "sources"]
        assert turn[-1]["type"] == "end"
        tokens = [e["content"] for e in turn if e["type"] == "token"]
        # 12 pieces from the model; pieces that arrive together may share a frame (entrypoints/http/coalesce.py)
        assert 1 <= len(tokens) <= 12 and "".join(tokens) == turn[-1]["answer"]
        assert turn[-1]["usage"]["output_tokens"] == 12
    seqs = [e["seq"] for e in first + second]
    assert seqs == list(range(1, len(seqs) + 1))

    prompt = [m["content"] for m in fake_groq.last_request["messages"]]
    assert "me llamo Ana" in prompt and first[-1]["answer"] in prompt and prompt[-1] == "¿cómo me llamo?"

    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        messages = (await client.get(f"/api/v1/conversations/{first[1]['conversation_id']}/messages")).json()
        visitor = (await client.get("/api/v1/visitors/e2e-ws")).json()
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1]["content"] == first[-1]["answer"] and messages[3]["usage"]["output_tokens"] == 12
    assert (visitor["origin"], visitor["message_count"]) == ("whatsapp", 2)


def test_sse_stream_over_http(server: str) -> None:
    with httpx.stream(
        "POST",
        f"{server}/api/v1/chat/stream",
        json={"agent_id": 1, "message": "hola", "session_id": "e2e-sse"},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events][:3] == ["visitor_message", "start", "sources"]
    assert events[-1]["type"] == "end"
    assert "".join(e["content"] for e in events if e["type"] == "token") == events[-1]["answer"]


def test_provider_errors_become_llm_unavailable_and_keep_the_message(
    server: str, fake_groq: FakeLLMServer
) -> None:
    fake_groq.set_sticky_fault("unavailable")
    r = httpx.post(
        f"{server}/api/v1/chat",
        json={"agent_id": 1, "message": "¿hay alguien?", "session_id": "e2e-down"},
        timeout=60,
    )
    assert (r.status_code, r.json()["code"]) == (503, "llm_unavailable")
    [conversation] = httpx.get(f"{server}/api/v1/conversations", params={"session_id": "e2e-down"}).json()
    messages = httpx.get(f"{server}/api/v1/conversations/{conversation['id']}/messages").json()
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "failed")]


def test_diagnostics_reach_the_provider(server: str, fake_groq: FakeLLMServer) -> None:
    test = httpx.get(f"{server}/api/v1/llm/test", timeout=30).json()
    assert test["ok"] is True and test["provider"] == "groq" and test["latency_ms"] > 0
    models = httpx.get(f"{server}/api/v1/groq/models", timeout=30).json()["models"]
    assert any(m["id"] == "llama-3.1-8b-instant" for m in models)
    key = httpx.post(f"{server}/api/v1/llm/verify-api-key", timeout=30).json()
    assert key == {"valid": True, "provider": "groq", "key_hint": "****-key"}
    assert "e2e-test-key" not in json.dumps([test, models, key])


def test_a_server_without_a_key_starts_and_says_what_to_set(tmp_path: Path) -> None:
    with running_server({"STORAGE": "memory"}, tmp_path) as url:
        r = httpx.post(f"{url}/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": "nokey"})
        ready = httpx.get(f"{url}/ready")
    assert (r.status_code, r.json()["code"]) == (503, "llm_unavailable") and "GROQ_API_KEY" in r.json()[
        "detail"
    ]
    assert ready.status_code == 503 and "GROQ_API_KEY" in ready.json()["components"]["llm"]["detail"]
