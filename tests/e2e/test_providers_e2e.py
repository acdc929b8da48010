"""The same end-to-end API test against a fake Groq and a fake OpenAI-compatible server: the provider is
swapped by configuration only (LLM_MODEL + the provider's key and base URL), never by code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer

KEY = "sk-e2e-provider-secret-4321"


def provider_env(provider: str, fake: FakeLLMServer) -> dict[str, str]:
    """All it takes to switch provider."""
    if provider == "groq":
        return {"GROQ_API_KEY": KEY, "GROQ_BASE_URL": str(fake.base_url)}
    return {
        "LLM_MODEL": "openai:llama-3.1-8b-instant",
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": f"{fake.base_url}/v1",
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=KEY, answer_tokens=6).run_in_thread() as server:
        yield server


@pytest.fixture(scope="module", params=["groq", "openai"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def logs(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(f"server-{provider}")


@pytest.fixture(scope="module")
def server(provider: str, fake: FakeLLMServer, logs: Path) -> Iterator[str]:
    env = {"STORAGE": "memory", "LLM_TIMEOUT": "3", "LLM_MAX_RETRIES": "1", **provider_env(provider, fake)}
    with running_server(env, logs) as url:
        yield url


@pytest.fixture(autouse=True)
def _clean(fake: FakeLLMServer) -> None:
    fake.reset()


def turn(server: str, session: str, message: str) -> list[dict]:
    """One WebSocket turn, its events up to `end` or `error`."""
    ws_url = server.replace("http://", "ws://") + f"/api/v1/chat/stream/{session}/1"
    events: list[dict] = []
    with connect(ws_url) as ws:
        ws.send(json.dumps({"message": message}))
        while not events or events[-1]["type"] not in ("end", "error"):
            events.append(json.loads(ws.recv(timeout=30)))
    return events


def stored(server: str, session: str) -> tuple[dict, list[dict]]:
    [conversation] = httpx.get(f"{server}/api/v1/conversations", params={"session_id": session}).json()
    messages = httpx.get(f"{server}/api/v1/conversations/{conversation['id']}/messages").json()
    return conversation, messages


def test_rest_and_streamed_turns_answer_with_usage_summed_per_conversation(
    server: str, provider: str, fake: FakeLLMServer
) -> None:
    session = f"usage-{provider}"
    r = httpx.post(
        f"{server}/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": session}, timeout=30
    )
    assert r.status_code == 200, r.text
    rest = r.json()
    assert rest["answer"].startswith("Echo: hola") and rest["model"] == f"{provider}:llama-3.1-8b-instant"
    assert rest["usage"]["output_tokens"] == 6
    assert fake.last_request is not None and fake.last_request["api"] == provider

    events = turn(server, session, "¿y ahora?")
    end = events[-1]
    assert end["type"] == "end" and end["model"] == f"{provider}:llama-3.1-8b-instant"
    assert "".join(e["content"] for e in events if e["type"] == "token") == end["answer"]
    assert end["usage"]["output_tokens"] == 6 and end["usage"]["input_tokens"] > 0

    conversation, messages = stored(server, session)
    replies = [m for m in messages if m["role"] == "assistant"]
    assert [m["usage"] for m in replies] == [rest["usage"], end["usage"]]
    assert conversation["usage"] == {
        key: rest["usage"][key] + end["usage"][key]
        for key in ("input_tokens", "output_tokens", "total_tokens")
    }


@pytest.mark.parametrize("style", ["error", "x_groq"])
def test_an_error_inside_the_stream_ends_the_turn_and_keeps_the_text(
    server: str, provider: str, fake: FakeLLMServer, style: str
) -> None:
    session = f"cut-{style}-{provider}"
    fake.push_fault("midstream_error", after_tokens=2, style=style)
    events = turn(server, session, "cuéntame")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "llm_stream_failed"
    said = "".join(e["content"] for e in events if e["type"] == "token")
    assert said == "Echo: cuéntame " and len(fake.requests) == 1
    _, messages = stored(server, session)
    assert [(m["role"], m["status"], m["content"]) for m in messages] == [
        ("user", "complete", "cuéntame"),
        ("assistant", "failed", said),
    ]


def test_a_provider_that_stays_down_or_stalls(server: str, provider: str, fake: FakeLLMServer) -> None:
    fake.set_sticky_fault("unavailable")
    r = httpx.post(
        f"{server}/api/v1/chat",
        json={"agent_id": 1, "message": "¿hay alguien?", "session_id": "down"},
        timeout=30,
    )
    assert (r.status_code, r.json()["code"]) == (503, "llm_unavailable")
    fake.set_sticky_fault("stall", seconds=20)
    events = turn(server, "stall", "¿sigues ahí?")
    assert [e["type"] for e in events] == ["visitor_message", "error"] and events[1][
        "code"
    ] == "llm_unavailable"
    for session in ("down", "stall"):
        _, messages = stored(server, session)
        assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "failed")]


def test_diagnostics_answer_for_the_configured_provider_without_the_key(
    server: str, provider: str, fake: FakeLLMServer, logs: Path
) -> None:
    answers = [
        httpx.get(f"{server}/api/v1/llm/test", timeout=30),
        httpx.get(f"{server}/api/v1/llm/models", timeout=30),
        httpx.post(f"{server}/api/v1/llm/verify-api-key", timeout=30),
        httpx.get(f"{server}/api/v1/groq/test", timeout=30),
        httpx.get(f"{server}/ready", timeout=30),
    ]
    test, models, key = (a.json() for a in answers[:3])
    assert test["ok"] is True and test["provider"] == provider and test["latency_ms"] > 0
    assert any(m["id"] == "llama-3.1-8b-instant" for m in models["models"])
    assert key == {"valid": True, "provider": provider, "key_hint": "****4321"}
    fake.set_sticky_fault("unavailable")
    failed = httpx.get(f"{server}/api/v1/llm/test", timeout=30)
    assert failed.status_code == 503 and failed.json()["ok"] is False
    server_log = "".join(p.read_text(errors="replace") for p in logs.glob("server-*.log"))
    everything = server_log + "".join(a.text for a in [*answers, failed])
    assert KEY not in everything and KEY[:-4] not in everything
