"""Who the client is behind trusted proxies: every X-Forwarded-For line counts, read from the right."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import TestClient
from litestar.types import Receive, Scope, Send

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.client_address import resolve_client
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

PROXY = "10.0.0.1"  # the trusted proxy the test client connects from
TRUSTED = ["10.0.0.0/8"]


class Proxy:
    """A proxy in front of the app: connections arrive from `peer`, and it adds its own X-Forwarded-For
    line naming the client it saw (`client`), after whatever lines the client wrote itself — as proxies that
    do not merge header lines do (the test client would merge them into one line)."""

    def __init__(self, app: Litestar, peer: str = PROXY) -> None:
        self.client: str | None = None
        self._peer = peer
        self._inner = app.asgi_handler
        app.asgi_handler = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["client"] = (self._peer, 40000)
        if self.client is not None:
            scope["headers"] = [*scope["headers"], (b"x-forwarded-for", self.client.encode())]
        await self._inner(scope, receive, send)


def make_app(model: ScriptedChatModel, **env: object) -> Litestar:
    settings = Settings(_env_file=None, STORAGE="memory", **env)
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    return create_app(settings, container)


@pytest.fixture
def proxied(model: ScriptedChatModel) -> Iterator[tuple[TestClient, Proxy]]:
    app = make_app(
        model, TRUSTED_PROXIES=",".join(TRUSTED), RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=2
    )
    proxy = Proxy(app)
    with TestClient(app) as client:
        yield client, proxy


def chat(client: TestClient, session: str, forged: str) -> int:
    body = {"agent_id": 1, "message": "hola", "session_id": session}
    return client.post("/api/v1/chat", json=body, headers={"X-Forwarded-For": forged}).status_code


def test_the_line_the_proxy_appended_is_the_one_rate_limited(proxied: tuple[TestClient, Proxy]) -> None:
    client, proxy = proxied
    proxy.client = "198.51.100.7"
    # The client writes its own line, a fresh fake address each time; the proxy's line names the real one.
    assert [chat(client, f"s{n}", f"6.6.6.{n}") for n in range(3)] == [200, 200, 429]
    # Another client behind the same proxy has its own allowance, whatever it forges on the left.
    proxy.client = "203.0.113.9"
    assert chat(client, "other", "198.51.100.7") == 200


def test_the_websocket_reads_every_line_too(proxied: tuple[TestClient, Proxy]) -> None:
    client, proxy = proxied
    proxy.client = "198.51.100.8"
    assert [chat(client, f"r{n}", f"6.6.6.{n}") for n in range(2)] == [200, 200]
    headers = {"X-Forwarded-For": "6.6.6.99"}
    with client.websocket_connect("/api/v1/chat/stream/w1/1", headers=headers) as ws:
        ws.send_json({"message": "hola"})
        assert ws.receive_json()["code"] == "rate_limited"


def test_the_audit_names_the_address_the_proxy_saw(model: ScriptedChatModel) -> None:
    key = "k" * 32
    app = make_app(model, TRUSTED_PROXIES=",".join(TRUSTED), ADMIN_API_KEY=key)
    proxy = Proxy(app)
    proxy.client = "198.51.100.9, 10.0.0.2"  # a second trusted proxy on the way
    with TestClient(app) as client:
        admin = {"X-API-Key": key, "X-Forwarded-For": "6.6.6.6"}
        body = {"name": "Proxied", "system_prompt": "Eres amable."}
        assert client.post("/api/v1/agents", json=body, headers=admin).status_code == 201
        entries = client.get("/api/v1/audit", headers=admin).json()
    assert entries[0]["client_address"] == "198.51.100.9"


def test_an_empty_first_line_does_not_hide_a_forwarded_request_from_the_loopback_rule(
    model: ScriptedChatModel,
) -> None:
    app = make_app(model)  # no ADMIN_API_KEY: loopback clients only
    proxy = Proxy(app, peer="127.0.0.1")  # a proxy on this host
    with TestClient(app) as client:
        assert client.get("/api/v1/agents").status_code == 200
        proxy.client = "203.0.113.9"
        refused = client.get("/api/v1/agents", headers={"X-Forwarded-For": ""})
    assert refused.status_code == 403


def test_resolving_a_chain() -> None:
    assert resolve_client(PROXY, ["6.6.6.6", "198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert resolve_client(PROXY, ["198.51.100.7, 10.0.0.2"], TRUSTED) == "198.51.100.7"  # proxies skipped
    assert resolve_client(PROXY, ["198.51.100.7:5123"], TRUSTED) == "198.51.100.7"  # a port is dropped
    assert resolve_client(PROXY, ["[2001:db8::1]:443"], TRUSTED) == "2001:db8::1"
    assert resolve_client(PROXY, ["10.0.0.3", "10.0.0.2"], TRUSTED) == "10.0.0.3"  # all proxies: the first
    assert resolve_client(PROXY, ["garbage"], TRUSTED) == PROXY  # nothing usable: the proxy itself
    assert resolve_client(PROXY, [], TRUSTED) == PROXY
    assert resolve_client("203.0.113.5", ["198.51.100.7"], TRUSTED) == "203.0.113.5"  # not from a proxy
    assert resolve_client(PROXY, ["198.51.100.7"], []) == PROXY  # no proxy trusted
    # A network written with host bits set (accepted by the settings) still counts as that network.
    assert resolve_client("10.1.2.3", ["198.51.100.7", "10.9.9.9"], ["10.0.0.1/8"]) == "198.51.100.7"
