"""Bad input over REST and WebSocket: every one answered cleanly, the connection kept unless the protocol broke."""

from __future__ import annotations

import json
import time

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from tests.api.test_chat_stream import assert_turn, read_turn
from tests.api.test_rate_limits import make_client
from tests.fakes.chat_model import ScriptedChatModel

CHAT = {"agent_id": 1, "session_id": "in-1"}


@pytest.mark.parametrize(
    ("message", "status", "code"),
    [
        ("x" * 501, 413, "message_too_long"),
        ("hola\x00", 422, "invalid_characters"),
        ("\x1b[31mrojo", 422, "invalid_characters"),
        ("bell\x07", 422, "invalid_characters"),
        ("surrogate \ud800", 400, "malformed_json"),  # msgspec refuses lone surrogates as JSON
        ("   ", 422, "empty_message"),
    ],
)
def test_bad_messages_over_rest(client: TestClient, message: str, status: int, code: str) -> None:
    body = json.dumps({**CHAT, "message": message})  # ASCII-escaped, so a lone surrogate travels as \ud800
    r = client.post("/api/v1/chat", content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_line_breaks_and_tabs_are_fine(client: TestClient) -> None:
    r = client.post("/api/v1/chat", json={**CHAT, "message": "línea 1\r\nlínea\t2"})
    assert r.status_code == 200


def test_invalid_utf8_body_is_422(client: TestClient) -> None:
    body = b'{"agent_id": 1, "session_id": "in-1", "message": "caf\xe9"}'
    r = client.post("/api/v1/chat", content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_characters")


def test_a_body_above_the_limit_is_413(model: ScriptedChatModel) -> None:
    with make_client(model, MAX_REQUEST_KB=8, MAX_MESSAGE_CHARS=100_000) as client:
        r = client.post("/api/v1/chat", json={**CHAT, "message": "x" * 9000})
        assert (r.status_code, r.json()["code"]) == (413, "request_too_large")
        assert client.post("/api/v1/chat", json={**CHAT, "message": "x" * 7000}).status_code == 200


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"message": "hola\\u0000"}', "invalid_characters"),
        ('{"message": "\\ud800"}', "malformed_json"),
        ('{"message": 42}', "missing_message"),
        ('{"message": "hola", "origin": 7}', "invalid_origin"),
        ('"just a string"', "invalid_frame"),
        ("null", "invalid_frame"),
    ],
)
def test_bad_frames_get_error_events(client: TestClient, frame: str, code: str) -> None:
    with client.websocket_connect("/api/v1/chat/stream/in-ws/1") as ws:
        ws.send_text(frame)
        assert (ws.receive_json()["code"]) == code
        ws.send_json({"message": "sigo aquí"})
        assert_turn(read_turn(ws))


def test_binary_frames_must_be_utf8_json(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/chat/stream/in-bin/1") as ws:
        ws.send_bytes(b"\xff\xfe\x00garbage")
        assert ws.receive_json()["code"] == "invalid_encoding"
        ws.send_bytes(b'{"message": "hola en binario"}')
        assert_turn(read_turn(ws))


def test_a_frame_above_the_limit_closes_with_1009(model: ScriptedChatModel) -> None:
    with (
        make_client(model, WS_MAX_FRAME_BYTES=2048) as client,
        client.websocket_connect("/api/v1/chat/stream/in-big/1") as ws,
    ):
        ws.send_text('{"message": "' + "x" * 3000 + '"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1009


def test_an_idle_connection_is_closed(model: ScriptedChatModel) -> None:
    with (
        make_client(model, WS_IDLE_TIMEOUT_SECONDS=0.3) as client,
        client.websocket_connect("/api/v1/chat/stream/in-idle/1") as ws,
    ):
        started = time.monotonic()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000 and time.monotonic() - started < 5


def test_a_long_answer_is_not_idleness(model: ScriptedChatModel) -> None:
    model.answer = "uno dos tres cuatro cinco seis"
    model.piece_delay = 0.1  # the answer takes 0.6 s, twice the idle timeout
    with (
        make_client(model, WS_IDLE_TIMEOUT_SECONDS=0.3) as client,
        client.websocket_connect("/api/v1/chat/stream/in-slow/1") as ws,
    ):
        ws.send_json({"message": "hola"})
        assert_turn(read_turn(ws))


def test_one_turn_at_a_time(client: TestClient, model: ScriptedChatModel) -> None:
    model.answer = "una respuesta bastante lenta de varias palabras"
    model.piece_delay = 0.05
    with client.websocket_connect("/api/v1/chat/stream/in-turn/1") as ws:
        ws.send_json({"message": "primera"})
        assert ws.receive_json()["type"] == "visitor_message"
        ws.send_json({"message": "segunda, demasiado pronto"})
        events = read_turn_through_error(ws)
        assert any(e["type"] == "error" and e["code"] == "turn_in_progress" for e in events)
        rest = events if events[-1]["type"] == "end" else read_turn(ws)
        assert rest[-1]["type"] == "end"
    messages = client.get("/api/v1/conversations?session_id=in-turn").json()
    conversation = messages[0]["id"]
    stored = client.get(f"/api/v1/conversations/{conversation}/messages").json()
    assert [m["content"] for m in stored if m["role"] == "user"] == ["primera"]


def read_turn_through_error(ws) -> list[dict]:  # type: ignore[no-untyped-def]
    events = []
    while True:
        event = ws.receive_json()
        events.append(event)
        if event["type"] in ("end", "error"):
            return events


def test_connections_per_session_are_capped(model: ScriptedChatModel) -> None:
    with make_client(model, WS_MAX_CONNECTIONS_PER_SESSION=2) as client:
        with (
            client.websocket_connect("/api/v1/chat/stream/cap/1"),
            client.websocket_connect("/api/v1/chat/stream/cap/1"),
            client.websocket_connect("/api/v1/chat/stream/cap/1") as third,
        ):
            assert third.receive_json()["code"] == "too_many_connections"
            with pytest.raises(WebSocketDisconnect) as closed:
                third.receive_json()
            assert closed.value.code == 1008
            with client.websocket_connect("/api/v1/chat/stream/other/1") as other:
                other.send_json({"message": "hola"})
                assert other.receive_json()["type"] == "visitor_message"
        # Closed connections free their places.
        with client.websocket_connect("/api/v1/chat/stream/cap/1") as again:
            again.send_json({"message": "hola"})
            assert again.receive_json()["type"] == "visitor_message"
