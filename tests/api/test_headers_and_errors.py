"""Security headers, the request id, CORS for REST and WebSocket, and errors that reveal nothing internal."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from dependency_injector import providers
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.headers import WIDGET_PAGE_POLICY
from entrypoints.logs import logging_config
from entrypoints.settings import Settings
from tests.api.test_rate_limits import make_client
from tests.fakes.chat_model import ScriptedChatModel

CHAT = {"agent_id": 1, "message": "hola", "session_id": "hdr-1"}


@pytest.mark.parametrize("path", ["/health", "/api/v1/agents", "/nothing/here", "/docs/openapi.json"])
def test_every_response_carries_the_security_headers_and_a_request_id(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert len(r.headers["x-request-id"]) >= 16
    assert "strict-transport-security" not in r.headers


def test_errors_carry_them_too(client: TestClient) -> None:
    r = client.post("/api/v1/chat", json={**CHAT, "session_id": "bad id"})
    assert r.status_code == 422
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]


def test_widget_page_policy_and_embeddable_script(client: TestClient) -> None:
    page = client.get("/widget/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == WIDGET_PAGE_POLICY
    script = client.get("/widget/centralita.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]  # nosniff would block a script served otherwise
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert script.headers["x-content-type-options"] == "nosniff"


def test_hsts_when_configured(model: ScriptedChatModel) -> None:
    with make_client(model, HSTS_MAX_AGE=31_536_000) as client:
        assert (
            client.get("/health").headers["strict-transport-security"]
            == "max-age=31536000; includeSubDomains"
        )


def test_a_sane_incoming_request_id_is_kept_and_a_forged_one_replaced(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123.x"}).headers["x-request-id"] == "abc-123.x"
    forged = client.get("/health", headers={"X-Request-ID": "a b\r\nINFO fake line"}).headers["x-request-id"]
    assert forged != "a b\r\nINFO fake line" and " " not in forged


def test_each_log_line_of_a_request_carries_its_id_in_text_and_json(model: ScriptedChatModel) -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        config = logging_config("INFO", fmt)
        config["handlers"]["console"]["stream"] = stream
        logging.config.dictConfig(config)
        try:
            with make_client(model) as client:
                r = client.post("/api/v1/chat", json=CHAT, headers={"X-Request-ID": f"req-{fmt}"})
                assert r.status_code == 200
        finally:
            logging.config.dictConfig(logging_config("WARNING", "text"))
        lines = [line for line in stream.getvalue().splitlines() if f"req-{fmt}" in line]
        assert lines, stream.getvalue()
        access = [line for line in lines if "/api/v1/chat" in line]
        assert access, lines
        assert "hola" not in stream.getvalue()  # no message body at INFO
        if fmt == "json":
            entry = json.loads(access[0])
            assert entry["request_id"] == "req-json"
            assert entry["access"] == {
                "method": "POST",
                "route": "/api/v1/chat",
                "status": 200,
                "duration_ms": entry["access"]["duration_ms"],
            }


def test_query_strings_are_not_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="centralita.access"):
        client.get("/api/v1/conversations?session_id=secret-token-123")
    assert caplog.records and "secret-token-123" not in caplog.text


def test_an_unexpected_exception_reveals_nothing(client: TestClient, model: ScriptedChatModel) -> None:
    async def explode(_: object) -> None:
        raise RuntimeError("db password is hunter2 at /srv/app/secret.py line 3")

    model.before_call = explode
    r = client.post("/api/v1/chat", json=CHAT)
    assert r.status_code == 500
    assert r.json() == {"detail": "Something went wrong on our side.", "code": "internal_error"}
    assert "hunter2" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"]


def test_cors_for_rest(model: ScriptedChatModel) -> None:
    with make_client(model, CORS_ORIGINS="https://shop.example") as client:
        allowed = client.options(
            "/api/v1/chat",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.headers.get("access-control-allow-origin") == "https://shop.example"
        other = client.post("/api/v1/chat", json=CHAT, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_websocket_handshakes_from_other_origins_are_refused_before_accept(model: ScriptedChatModel) -> None:
    with make_client(model, CORS_ORIGINS="https://shop.example") as client:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(
                "/api/v1/chat/stream/o-1/1", headers={"Origin": "https://evil.example"}
            ) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 1008
        for n, origin in enumerate(("https://shop.example", None)):  # listed, or not a browser
            headers = {"Origin": origin} if origin else {}
            with client.websocket_connect(f"/api/v1/chat/stream/o-2-{n}/1", headers=headers) as ws:
                ws.send_json({"message": "hola"})
                assert ws.receive_json()["type"] == "visitor_message"


def test_admin_routes_say_at_startup_that_they_answer_loopback_only(
    model: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, STORAGE="memory")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with caplog.at_level(logging.INFO), TestClient(create_app(settings, container)):
        pass
    assert "ADMIN_API_KEY is unset: admin routes" in caplog.text and "loopback clients only" in caplog.text
