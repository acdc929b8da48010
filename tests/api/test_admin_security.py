"""Admin routes against browsers and guessers: Host and Origin checks, JSON-only bodies, key throttling.

The default install trusts loopback clients, so a web page the operator visits (cross-site request forgery)
or a hostile name that resolves to 127.0.0.1 (DNS rebinding) must not reach the admin routes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from pydantic import ValidationError

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.api.test_rate_limits import make_client
from tests.fakes.chat_model import ScriptedChatModel

AGENT = {"name": "Ventas", "system_prompt": "Vendes fibra."}
EVIL = "https://evil.example"
OWN = "http://testserver.local"  # the test client's own origin


# --- 1. an empty ADMIN_API_KEY --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_an_empty_admin_key_is_refused_by_the_settings(value: str) -> None:
    with pytest.raises(ValidationError, match="ADMIN_API_KEY is empty"):
        Settings(_env_file=None, ADMIN_API_KEY=value)


def test_an_empty_admin_key_in_the_environment_stops_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_API_KEY", "")
    monkeypatch.setenv("STORAGE", "memory")
    with pytest.raises(ValidationError, match="ADMIN_API_KEY is empty"):
        create_app()


def test_a_key_with_surrounding_spaces_is_the_key_a_header_can_carry() -> None:
    settings = Settings(_env_file=None, ADMIN_API_KEY="  s3cret \n")
    assert settings.admin_api_key is not None and settings.admin_api_key.get_secret_value() == "s3cret"


def test_an_empty_given_key_never_matches(model: ScriptedChatModel) -> None:
    with make_client(model, ADMIN_API_KEY="k") as client:
        r = client.get("/api/v1/agents", headers={"X-API-Key": ""})
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


# --- 2. cross-site requests and DNS rebinding -------------------------------------------------------------


def test_an_admin_write_from_another_site_is_refused(client: TestClient) -> None:
    r = client.post("/api/v1/agents", json=AGENT, headers={"Origin": EVIL})
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_origin")
    assert r.headers["x-request-id"]
    assert [a["id"] for a in client.get("/api/v1/agents").json()] == [1]  # nothing was created
    for method in ("GET", "DELETE"):
        r = client.request(method, "/api/v1/agents/1", headers={"Origin": "null"})  # a sandboxed page
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_origin")


def test_the_servers_own_pages_and_non_browsers_may_write(client: TestClient) -> None:
    assert client.post("/api/v1/agents", json=AGENT, headers={"Origin": OWN}).status_code == 201  # /docs
    assert client.post("/api/v1/agents", json=AGENT).status_code == 201  # curl, the CLI: no Origin


def test_only_listed_origins_may_call_admin_routes_and_a_wildcard_lists_none(
    model: ScriptedChatModel,
) -> None:
    with make_client(model, CORS_ORIGINS="https://admin.example") as client:
        ok = client.post("/api/v1/agents", json=AGENT, headers={"Origin": "https://admin.example"})
        assert ok.status_code == 201
        refused = client.post("/api/v1/agents", json=AGENT, headers={"Origin": EVIL})
        assert refused.json()["code"] == "forbidden_origin"
    with make_client(model, CORS_ORIGINS="*") as client:
        refused = client.post("/api/v1/agents", json=AGENT, headers={"Origin": EVIL})
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden_origin")
        # the public routes stay open to every site
        chat = {"agent_id": 1, "message": "hola", "session_id": "s-1"}
        assert client.post("/api/v1/chat", json=chat, headers={"Origin": EVIL}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/agents"),
        ("PUT", "/api/v1/agents/1"),
        ("PATCH", "/api/v1/agents/1"),
        ("POST", "/api/v1/agents/1/documents"),
    ],
)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None]
)
def test_admin_bodies_must_be_json(
    client: TestClient, method: str, path: str, content_type: str | None
) -> None:
    # A page may send text/plain or a form without a CORS preflight: JSON in such a body is not taken.
    body = b'{"name": "Ventas", "system_prompt": "x", "title": "t", "text": "hola"}'
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.request(method, path, content=body, headers=headers)
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    assert [a["name"] for a in client.get("/api/v1/agents").json()] == [
        "Asistente general"
    ]  # the seeded agent, unchanged


def test_multipart_is_taken_only_by_the_document_upload_and_only_from_this_site(client: TestClient) -> None:
    files = {"file": ("horario.txt", b"Abrimos de 9 a 18 h.", "text/plain")}
    r = client.post("/api/v1/agents", files=files)
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    r = client.post("/api/v1/agents/1/documents", files=files, headers={"Origin": EVIL})
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_origin")
    assert client.get("/api/v1/agents/1/documents").json() == []
    assert client.post("/api/v1/agents/1/documents", files=files).status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/chat/agents/1", "/health", "/widget/"])
def test_a_foreign_host_is_refused_while_loopback_is_trusted(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"Host": "evil.example"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_host")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST."]
)
def test_loopback_names_and_the_servers_own_address_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/v1/agents", headers={"Host": host}).status_code == 200
    assert client.get("/api/v1/agents").status_code == 200  # Host = the address it listens on


def test_allowed_hosts_names_the_hosts_served(model: ScriptedChatModel) -> None:
    with make_client(model, ALLOWED_HOSTS="chat.example.com,*.acme.example") as client:
        for host in ("chat.example.com", "eu.acme.example", "chat.example.com:443"):
            assert client.get("/health", headers={"Host": host}).status_code == 200
        for host in ("localhost", "acme.example.evil", "evil.example"):
            assert client.get("/health", headers={"Host": host}).json()["code"] == "invalid_host"
    # With a key, admin routes no longer trust loopback: any Host is served unless ALLOWED_HOSTS says otherwise.
    with make_client(model, ADMIN_API_KEY="k") as client:
        assert client.get("/health", headers={"Host": "chat.example.com"}).status_code == 200
    with make_client(model, ADMIN_API_KEY="k", ALLOWED_HOSTS="chat.example.com") as client:
        assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400


def test_a_websocket_with_a_foreign_host_is_refused_even_with_a_matching_origin(
    model: ScriptedChatModel,
) -> None:
    for env in ({}, {"CORS_ORIGINS": "https://shop.example"}):
        with make_client(model, **env) as client:
            headers = {"Host": "evil.example", "Origin": "http://evil.example"}
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/api/v1/chat/stream/h-1/1", headers=headers) as ws,
            ):
                ws.receive_json()
            assert refused.value.code == 1008
            with client.websocket_connect("/api/v1/chat/stream/h-2/1", headers={"Origin": OWN}) as ws:
                ws.send_json({"message": "hola"})
                assert ws.receive_json()["type"] == "visitor_message"


# --- 5. wrong keys are throttled; refused preflights are JSON ------------------------------------------------


def with_peer(app: ASGIApp) -> ASGIApp:
    """The test client always connects from one address: `X-Test-Peer` picks another."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-peer":
                scope["client"] = (value.decode(), 50000)  # type: ignore[typeddict-unknown-key]
        await app(scope, receive, send)

    return asgi


@pytest.fixture
def keyed(model: ScriptedChatModel) -> Iterator[TestClient]:
    from dependency_injector import providers

    settings = Settings(
        _env_file=None, STORAGE="memory", ADMIN_API_KEY="right", ADMIN_KEY_ATTEMPTS_PER_MINUTE=3
    )
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    app = create_app(settings, container)
    app.asgi_handler = with_peer(app.asgi_handler)
    with TestClient(app) as client:
        yield client


def test_wrong_keys_are_throttled_per_address(keyed: TestClient) -> None:
    guesser = {"X-Test-Peer": "203.0.113.9"}
    for _ in range(3):
        r = keyed.get("/api/v1/agents", headers={**guesser, "X-API-Key": "wrong"})
        assert r.status_code == 401
    r = keyed.get("/api/v1/agents", headers={**guesser, "X-API-Key": "wrong"})
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    # Once throttled, even the right key from that address waits: guessing on would tell nothing.
    r = keyed.get("/api/v1/agents", headers={**guesser, "X-API-Key": "right"})
    assert r.status_code == 429
    # Another address is not blocked by the guesser's failures.
    operator = {"X-Test-Peer": "198.51.100.7", "X-API-Key": "right"}
    assert keyed.get("/api/v1/agents", headers=operator).status_code == 200
    # The public routes are not affected.
    assert keyed.get("/api/v1/chat/agents/1", headers=guesser).status_code == 200


def test_a_refused_cors_preflight_answers_json(model: ScriptedChatModel) -> None:
    with make_client(model, CORS_ORIGINS="https://shop.example") as client:
        headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        r = client.options("/api/v1/chat", headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_origin")
        assert r.headers["content-type"].startswith("application/json") and r.json()["detail"]
        allowed = client.options("/api/v1/chat", headers={**headers, "Origin": "https://shop.example"})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
