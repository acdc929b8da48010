"""Agents, conversations, visitors, LLM diagnostics, health — and who may call them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

AGENT_FIELDS = {
    "id",
    "name",
    "system_prompt",
    "language",
    "model",
    "temperature",
    "max_tokens",
    "k_documents",
    "min_score",
    "greeting",
    "created_at",
    "updated_at",
}


def test_a_fresh_install_has_agent_1(client: TestClient) -> None:
    agent = client.get("/api/v1/agents/1").json()
    assert set(agent) == AGENT_FIELDS
    assert agent["id"] == 1 and agent["language"] == "es" and agent["k_documents"] == 4


def test_agent_crud(client: TestClient) -> None:
    r = client.post("/api/v1/agents", json={"name": "Ventas", "system_prompt": "Vendes fibra."})
    assert r.status_code == 201
    created = r.json()
    assert created["id"] == 2 and created["language"] == "es" and created["model"] is None

    r = client.patch("/api/v1/agents/2", json={"temperature": 0.2, "greeting": "¡Hola!"})
    assert (r.status_code, r.json()["temperature"], r.json()["name"]) == (200, 0.2, "Ventas")

    r = client.put("/api/v1/agents/2", json={"name": "Ventas 2", "system_prompt": "Otro.", "language": "en"})
    assert r.status_code == 200 and r.json()["temperature"] is None and r.json()["language"] == "en"
    assert r.json()["updated_at"] >= created["updated_at"]

    assert [a["id"] for a in client.get("/api/v1/agents").json()] == [1, 2]
    assert [a["id"] for a in client.get("/api/v1/agents", params={"limit": 1, "offset": 1}).json()] == [2]
    assert client.delete("/api/v1/agents/2").status_code == 204
    assert client.get("/api/v1/agents/2").json()["code"] == "agent_not_found"
    assert client.delete("/api/v1/agents/2").status_code == 404
    assert client.post("/api/v1/agents", json={"name": "Otro", "system_prompt": "x"}).json()["id"] == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "sin prompt"}, 422, "invalid_request"),
        ({"name": "", "system_prompt": "x"}, 422, "invalid_agent"),
        ({"name": "a", "system_prompt": "x", "temperature": 5}, 422, "invalid_agent"),
        ({"name": "a", "system_prompt": "x", "k_documents": -1}, 422, "invalid_agent"),
        ({"name": "a", "system_prompt": "x", "colour": "red"}, 422, "invalid_request"),
    ],
)
def test_invalid_agents_are_refused(client: TestClient, body: dict, status: int, code: str) -> None:
    r = client.post("/api/v1/agents", json=body)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_patch_of_unknown_agent_or_field(client: TestClient) -> None:
    assert client.patch("/api/v1/agents/9", json={"name": "x"}).status_code == 404
    assert client.patch("/api/v1/agents/1", json={"nombre": "x"}).status_code == 422


def test_conversations_visitors_and_history(client: TestClient) -> None:
    for session, text in [("a-1", "hola"), ("a-1", "adiós"), ("b-2", "buenas")]:
        client.post(
            "/api/v1/chat", json={"agent_id": 1, "message": text, "session_id": session, "origin": "web"}
        )

    conversations = client.get("/api/v1/conversations").json()
    assert {c["session_id"] for c in conversations} == {"a-1", "b-2"}
    [mine] = client.get("/api/v1/conversations", params={"session_id": "a-1", "agent_id": 1}).json()
    assert mine["message_count"] == 4 and mine["usage"]["total_tokens"] > 0

    messages = client.get(f"/api/v1/conversations/{mine['id']}/messages").json()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert set(messages[1]) == {"id", "role", "content", "created_at", "status", "model", "usage", "sources"}
    assert client.get("/api/v1/conversations/nope/messages").json()["code"] == "conversation_not_found"

    visitor = client.get("/api/v1/visitors/a-1").json()
    assert set(visitor) == {"session_id", "origin", "first_seen", "last_seen", "message_count"}
    assert visitor["message_count"] == 2
    assert client.get("/api/v1/visitors/unknown").json()["code"] == "visitor_not_found"

    history = client.get("/api/v1/chat/history/a-1/1", params={"limit": 3}).json()
    assert [m["content"] for m in history] == ["Echo: hola", "adiós", "Echo: adiós"]
    assert set(history[0]) == {"id", "role", "content", "created_at", "status", "sources"}
    assert client.get("/api/v1/chat/history/a-1/1", params={"limit": 5000}).status_code == 422


def test_llm_diagnostics_and_legacy_aliases(client: TestClient, model: ScriptedChatModel) -> None:
    for prefix in ("/api/v1/llm", "/api/v1/groq"):
        test = client.get(f"{prefix}/test")
        assert test.status_code == 200 and test.json()["ok"] is True
        assert set(test.json()) == {"ok", "provider", "model", "latency_ms"}
        assert client.get(f"{prefix}/models").json() == {"models": [{"id": "fake-model", "owned_by": "fake"}]}
        key = client.post(f"{prefix}/verify-api-key").json()
        assert key == {"valid": True, "provider": "fake", "key_hint": "****abcd"}
    model.unavailable = "set GROQ_API_KEY"
    r = client.get("/api/v1/llm/test")
    assert r.status_code == 503 and r.json()["ok"] is False and r.json()["error"] == "set GROQ_API_KEY"


def test_health_ready_and_docs(client: TestClient, model: ScriptedChatModel) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and set(ready.json()["components"]) == {"store", "knowledge", "llm"}
    model.unavailable = "set GROQ_API_KEY"
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["components"]["llm"] == {
        "ok": False,
        "kind": "fake:fake-model",
        "detail": "set GROQ_API_KEY",
    }
    assert client.get("/docs/openapi.json").json()["info"]["title"] == "Centralita"
    assert client.get("/docs").status_code == 200


@pytest.fixture
def keyed_client(model: ScriptedChatModel) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, STORAGE="memory", ADMIN_API_KEY="admin-test-key")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as test_client:
        yield test_client


def test_admin_routes_need_the_key_when_one_is_set(keyed_client: TestClient) -> None:
    r = keyed_client.get("/api/v1/agents")
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
    assert keyed_client.get("/api/v1/agents", headers={"X-API-Key": "wrong"}).status_code == 401
    assert keyed_client.get("/api/v1/agents", headers={"X-API-Key": "admin-test-key"}).status_code == 200
    # the visitor's routes stay public
    assert keyed_client.get("/api/v1/chat/history/s/1").status_code == 200
    assert (
        keyed_client.post(
            "/api/v1/chat", json={"agent_id": 1, "message": "hi", "session_id": "s"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("127.8.9.1", True),
        ("10.0.0.5", False),
        ("203.0.113.9", False),
        (None, False),
    ],
)
async def test_without_a_key_admin_routes_answer_only_loopback(host: str | None, local: bool) -> None:
    from types import SimpleNamespace

    from litestar.datastructures import Headers
    from litestar.exceptions import PermissionDeniedException

    from entrypoints.http.security import admin_guard

    settings = Settings(_env_file=None, STORAGE="memory")
    connection = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(settings=settings)),
        client=SimpleNamespace(host=host) if host else None,
        headers=Headers(),
    )
    if local:
        await admin_guard(connection, None)  # type: ignore[arg-type]
    else:
        with pytest.raises(PermissionDeniedException):
            await admin_guard(connection, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}],
)
def test_without_a_key_a_request_relayed_by_a_local_proxy_is_not_local(
    client: TestClient, header: dict
) -> None:
    # nginx on the same host connects from 127.0.0.1 on behalf of an internet client
    r = client.get("/api/v1/agents", headers=header)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert client.get("/api/v1/agents").status_code == 200
    # the visitor's routes stay open to relayed clients
    assert client.get("/api/v1/chat/history/s/1", headers=header).status_code == 200
