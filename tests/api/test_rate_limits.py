"""Rate limits and the daily token quota, over REST and WebSocket together (PRODUCT.md, "Precisions")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.api.test_chat_stream import read_turn
from tests.fakes.chat_model import ScriptedChatModel


def make_client(model: ScriptedChatModel, **env: object) -> TestClient:
    settings = Settings(_env_file=None, STORAGE="memory", **env)
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    return TestClient(create_app(settings, container))


@pytest.fixture
def limited(model: ScriptedChatModel) -> Iterator[TestClient]:
    with make_client(model, RATE_LIMIT_SESSION_PER_MINUTE=3, RATE_LIMIT_IP_PER_MINUTE=5) as client:
        yield client


def chat(client: TestClient, session: str, message: str = "hola", **headers: str):  # type: ignore[no-untyped-def]
    body = {"agent_id": 1, "message": message, "session_id": session}
    return client.post("/api/v1/chat", json=body, headers=headers)


def test_a_session_over_its_limit_gets_429_with_retry_after(limited: TestClient) -> None:
    assert [chat(limited, "rl-1").status_code for _ in range(3)] == [200, 200, 200]
    refused = chat(limited, "rl-1")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited" and refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    # Another session from the same address still has room (5 per address).
    assert chat(limited, "rl-2").status_code == 200


def test_the_address_limit_covers_every_session(limited: TestClient) -> None:
    codes = [chat(limited, f"ip-{n}").status_code for n in range(6)]
    assert codes == [200] * 5 + [429]


def test_rejected_and_malformed_requests_count_too(limited: TestClient) -> None:
    assert chat(limited, "bad-1", message="").status_code == 422  # counted against session and address
    assert chat(limited, "bad-1", message="x" * 5000).status_code == 413
    assert (
        limited.post(
            "/api/v1/chat", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert chat(limited, "bad-1").status_code == 200
    assert chat(limited, "bad-1").status_code == 429  # three for the session already
    assert chat(limited, "bad-2").status_code == 429  # and five for the address


def test_rest_and_websocket_share_the_limit(limited: TestClient) -> None:
    assert chat(limited, "mix-1").status_code == 200
    with limited.websocket_connect("/api/v1/chat/stream/mix-1/1") as ws:
        ws.send_json({"message": "uno"})
        assert read_turn(ws)[-1]["type"] == "end"
        ws.send_json({"message": "dos"})
        assert read_turn(ws)[-1]["type"] == "end"
        ws.send_json({"message": "tres"})
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", "rate_limited")
        assert error["retry_after"] >= 1
        # The connection stays open: a refused turn is not a protocol error.
        ws.send_text("{}")
        assert ws.receive_json()["code"] == "rate_limited"
    assert chat(limited, "mix-1").status_code == 429


def test_the_legacy_route_is_limited_too(limited: TestClient) -> None:
    body = {"id_agente": 1, "mensaje": "hola", "session_id": "legacy-rl"}
    codes = [limited.post("/api/v1/groq/chat", json=body).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_zero_disables_the_limits(model: ScriptedChatModel) -> None:
    with make_client(model, RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=0) as client:
        assert {chat(client, "free").status_code for _ in range(30)} == {200}


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(model: ScriptedChatModel) -> None:
    with make_client(model, RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=2) as client:
        codes = [chat(client, "x", **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(3)]
    assert codes == [200, 200, 429]  # spoofed addresses do not buy a fresh allowance


def test_daily_token_quota(model: ScriptedChatModel) -> None:
    with make_client(model, VISITOR_DAILY_TOKEN_QUOTA=12) as client:
        first = chat(client, "q-1", message="una pregunta con varias palabras")
        assert first.status_code == 200 and first.json()["usage"]["total_tokens"] >= 12
        refused = chat(client, "q-1")
        assert (refused.status_code, refused.json()["code"]) == (429, "quota_exceeded")
        assert int(refused.headers["retry-after"]) <= 86_400
        assert chat(client, "q-2").status_code == 200  # per visitor
        with client.websocket_connect("/api/v1/chat/stream/q-1/1") as ws:
            ws.send_json({"message": "hola"})
            error = ws.receive_json()
            assert (error["code"], error["retry_after"] > 0) == ("quota_exceeded", True)


def test_an_interrupted_stream_is_charged_by_estimate(model: ScriptedChatModel) -> None:
    model.answer = " ".join(["palabra"] * 40)
    model.piece_delay = 0.01
    with make_client(model, VISITOR_DAILY_TOKEN_QUOTA=1_000_000) as client:
        with client.websocket_connect("/api/v1/chat/stream/q-int/1") as ws:
            ws.send_json({"message": "cuéntame"})
            assert ws.receive_json()["type"] == "visitor_message"
        quota = client.app.state.container.usage_quota()
        deadline = time.monotonic() + 5
        while not (spent := asyncio.run(quota.used("q-int", datetime.now(UTC).date()))):
            assert time.monotonic() < deadline, "the interrupted turn was never charged"
            time.sleep(0.05)
        assert spent > 0
