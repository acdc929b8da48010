"""The public agent route: what a chat widget may show of an agent, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

PUBLIC_FIELDS = {"id", "name", "language", "greeting", "available", "unavailable_code"}


def test_agent_1_is_public_without_its_prompt_or_model(client: TestClient) -> None:
    r = client.get("/api/v1/chat/agents/1")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == PUBLIC_FIELDS
    assert body["id"] == 1 and body["language"] == "es" and body["name"]
    assert body["greeting"]
    prompt = client.get("/api/v1/agents/1").json()["system_prompt"]
    assert prompt not in r.text and "system_prompt" not in r.text and "model" not in r.text


def test_it_follows_the_agent(client: TestClient) -> None:
    created = client.post(
        "/api/v1/agents",
        json={
            "name": "Support",
            "system_prompt": "SECRET-INSTRUCTIONS never shown to visitors.",
            "language": "en",
            "model": "groq:some-private-model",
            "greeting": "Hi! Ask me about your bill.",
        },
    ).json()
    body = client.get(f"/api/v1/chat/agents/{created['id']}").json()
    assert body == {
        "id": created["id"],
        "name": "Support",
        "language": "en",
        "greeting": "Hi! Ask me about your bill.",
        "available": True,
        "unavailable_code": None,
    }
    client.patch(f"/api/v1/agents/{created['id']}", json={"greeting": None})
    r = client.get(f"/api/v1/chat/agents/{created['id']}")
    assert r.json()["greeting"] is None
    assert "SECRET-INSTRUCTIONS" not in r.text and "private-model" not in r.text


def test_unknown_agent_is_404_agent_not_found(client: TestClient) -> None:
    r = client.get("/api/v1/chat/agents/999")
    assert r.status_code == 404
    assert r.json()["code"] == "agent_not_found" and r.json()["detail"]
    assert client.get("/api/v1/chat/agents/not-a-number").status_code in (400, 404)


@pytest.fixture
def keyed_remote_client(model: ScriptedChatModel) -> Iterator[TestClient]:
    """A server with an admin key, called without it: a visitor's browser."""
    settings = Settings(_env_file=None, STORAGE="memory", ADMIN_API_KEY="admin-test-key")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as test_client:
        yield test_client


def test_it_needs_no_admin_key(keyed_remote_client: TestClient) -> None:
    assert keyed_remote_client.get("/api/v1/agents/1").status_code == 401
    r = keyed_remote_client.get("/api/v1/chat/agents/1")
    assert r.status_code == 200 and set(r.json()) == PUBLIC_FIELDS


def test_it_is_in_the_openapi_schema_without_private_fields(client: TestClient) -> None:
    schema = client.get("/docs/openapi.json").json()
    assert "/api/v1/chat/agents/{agent_id}" in schema["paths"]
    public = schema["components"]["schemas"]["PublicAgentOut"]["properties"]
    assert set(public) == PUBLIC_FIELDS


def test_it_says_the_agent_cannot_answer_while_no_model_is_configured() -> None:
    """No GROQ_API_KEY: the widget must not claim "online"; the reason is a code, never the setup advice."""
    settings = Settings(_env_file=None, STORAGE="memory", GROQ_API_KEY="")
    with TestClient(create_app(settings, build_container(settings))) as no_key:
        r = no_key.get("/api/v1/chat/agents/1")
        assert r.status_code == 200
        body = r.json()
        assert body["available"] is False and body["unavailable_code"] == "llm_unavailable"
        assert "GROQ" not in r.text and "key" not in r.text.lower()


def test_it_says_the_agent_can_answer_with_a_model_and_not_when_the_key_is_refused(
    client: TestClient, model: ScriptedChatModel
) -> None:
    body = client.get("/api/v1/chat/agents/1").json()
    assert body["available"] is True and body["unavailable_code"] is None
    model.unavailable = "the provider is unreachable"
    body = client.get("/api/v1/chat/agents/1").json()
    assert body["available"] is False and body["unavailable_code"] == "llm_unavailable"
