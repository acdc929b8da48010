"""REST chat, current and legacy, through Litestar's test client."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from tests.fakes.chat_model import ScriptedChatModel

ANSWER_FIELDS = {
    "answer",
    "agent_id",
    "session_id",
    "conversation_id",
    "message_id",
    "model",
    "sources",
    "usage",
}


def test_chat_answers_with_the_contract_fields(client: TestClient) -> None:
    r = client.post(
        "/api/v1/chat", json={"agent_id": 1, "message": "Hola", "session_id": "s-1", "origin": "web"}
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == ANSWER_FIELDS
    assert body["answer"] == "Echo: Hola" and body["agent_id"] == 1 and body["session_id"] == "s-1"
    assert body["sources"] == [] and set(body["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}


def test_legacy_groq_chat_answers_with_respuesta(client: TestClient) -> None:
    r = client.post(
        "/api/v1/groq/chat",
        json={"id_agente": 1, "mensaje": "¿Cuál es tu nombre?", "session_id": "user-123", "origin": "web"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["respuesta"] == body["answer"] == "Echo: ¿Cuál es tu nombre?"
    assert set(body) == ANSWER_FIELDS | {"respuesta"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"agent_id": 77, "message": "hola", "session_id": "s"}, 404, "agent_not_found"),
        ({"agent_id": 1, "message": "hola", "session_id": "bad id!"}, 422, "invalid_session_id"),
        ({"agent_id": 1, "message": "", "session_id": "s"}, 422, "empty_message"),
        ({"agent_id": 1, "message": "x" * 501, "session_id": "s"}, 413, "message_too_long"),
        ({"agent_id": 1, "session_id": "s"}, 422, "invalid_request"),
        ({"agent_id": "one", "message": "hola", "session_id": "s"}, 422, "invalid_request"),
        ({"agent_id": 1, "message": "hola", "session_id": "s", "origin": "x" * 33}, 422, "invalid_origin"),
    ],
)
def test_bad_chat_requests_get_json_errors(client: TestClient, body: dict, status: int, code: str) -> None:
    r = client.post("/api/v1/chat", json=body)
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_malformed_json_is_a_400(client: TestClient) -> None:
    r = client.post("/api/v1/chat", content=b'{"agent_id": 1,', headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "malformed_json")


def test_no_model_key_is_a_503_that_says_what_to_set_and_keeps_the_message(
    client: TestClient, model: ScriptedChatModel
) -> None:
    model.unavailable = "The language model is not configured: set GROQ_API_KEY."
    r = client.post("/api/v1/chat", json={"agent_id": 1, "message": "¿hola?", "session_id": "s-2"})
    assert (r.status_code, r.json()["code"]) == (503, "llm_unavailable")
    assert "GROQ_API_KEY" in r.json()["detail"]
    [conversation] = client.get("/api/v1/conversations", params={"session_id": "s-2"}).json()
    messages = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "¿hola?", "complete"),
        ("assistant", "", "failed"),
    ]


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    r = client.get("/api/v1/nope")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
