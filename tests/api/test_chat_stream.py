"""The stream events over WebSocket (current and legacy paths) and server-sent events."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient

from tests.fakes.chat_model import ScriptedChatModel


def read_turn(ws) -> list[dict]:
    events = []
    while True:
        event = ws.receive_json()
        events.append(event)
        if event["type"] in ("end", "error"):
            return events


def assert_turn(events: list[dict]) -> None:
    """The visitor's message, then its answer: start, sources, tokens, end — each with its event_id."""
    assert [e["type"] for e in events[:3]] == ["visitor_message", "start", "sources"]
    assert events[-1]["type"] == "end"
    assert {e["type"] for e in events[3:-1]} == {"token"}
    assert "".join(e["content"] for e in events[3:-1]) == events[-1]["answer"]
    assert events[1]["message_id"] == events[-1]["message_id"] != events[0]["message_id"]
    assert set(events[-1]) == {"type", "message_id", "answer", "usage", "model", "seq", "event_id"}
    assert set(events[1]) == {"type", "message_id", "conversation_id", "seq", "event_id"}
    assert set(events[0]) == {"type", "message_id", "content", "seq", "event_id"}
    ids = [e["event_id"] for e in events]
    assert ids == sorted(set(ids)), ids  # counting up, never back


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/v1/chat/stream/ws-1/1", "message"), ("/api/v1/groq/chat/stream/ws-1/1", "mensaje")],
)
def test_several_turns_on_one_connection_with_increasing_seq(client: TestClient, path: str, key: str) -> None:
    with client.websocket_connect(path) as ws:
        ws.send_json({key: "primera pregunta", "origin": "web"})
        first = read_turn(ws)
        ws.send_json({key: "segunda", "origin": "web"})
        second = read_turn(ws)
    assert_turn(first)
    assert_turn(second)
    seqs = [e["seq"] for e in first + second]
    assert seqs == list(range(1, len(seqs) + 1))
    assert first[1]["conversation_id"] == second[1]["conversation_id"]
    assert second[0]["event_id"] > first[-1]["event_id"]  # one conversation: its ids go on counting

    messages = client.get(f"/api/v1/conversations/{first[1]['conversation_id']}/messages").json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "primera pregunta"),
        ("assistant", first[-1]["answer"]),
        ("user", "segunda"),
        ("assistant", second[-1]["answer"]),
    ]
    assert client.get("/api/v1/visitors/ws-1").json()["origin"] == "web"


def test_the_second_turns_prompt_carries_the_first(client: TestClient, model: ScriptedChatModel) -> None:
    with client.websocket_connect("/api/v1/chat/stream/ws-2/1") as ws:
        ws.send_json({"message": "me llamo Ana"})
        read_turn(ws)
        ws.send_json({"message": "¿cómo me llamo?"})
        read_turn(ws)
    contents = [m.content for m in model.requests[-1].messages]
    assert "me llamo Ana" in contents and "Echo: me llamo Ana" in contents


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"text": "hola"}', "missing_message"),
        ('{"message": ""}', "empty_message"),
        ('{"message": "' + "x" * 501 + '"}', "message_too_long"),
    ],
)
def test_bad_frames_get_an_error_event_and_the_connection_stays_open(
    client: TestClient, frame: str, code: str
) -> None:
    with client.websocket_connect("/api/v1/chat/stream/ws-3/1") as ws:
        ws.send_text(frame)
        error = ws.receive_json()
        assert (error["type"], error["code"], error["seq"]) == ("error", code, 1)
        assert error["detail"]
        ws.send_json({"message": "ahora bien"})
        turn = read_turn(ws)
    assert_turn(turn)
    assert turn[0]["seq"] == 2


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/chat/stream/ws-4/99", "agent_not_found"),
        ("/api/v1/chat/stream/bad%20id/1", "invalid_session_id"),
    ],
)
def test_unknown_agent_or_bad_session_gets_one_error_and_close_1008(
    client: TestClient, path: str, code: str
) -> None:
    from litestar.exceptions import WebSocketDisconnect

    with client.websocket_connect(path) as ws:
        error = ws.receive_json()
        assert (error["type"], error["code"], error["seq"]) == ("error", code, 1)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_a_provider_down_ends_the_turn_with_an_error_not_the_connection(
    client: TestClient, model: ScriptedChatModel
) -> None:
    model.fail_before_first_token = True
    with client.websocket_connect("/api/v1/chat/stream/ws-5/1") as ws:
        ws.send_json({"message": "hola"})
        said, error = ws.receive_json(), ws.receive_json()
        assert said["type"] == "visitor_message"  # kept and shown, although unanswered
        assert (error["type"], error["code"]) == ("error", "llm_unavailable")
        assert error["message_id"] and error["event_id"] == said["event_id"] + 1
        model.fail_before_first_token = False
        ws.send_json({"message": "otra vez"})
        assert_turn(read_turn(ws))


def sse_events(body: str) -> list[dict]:
    return [json.loads(line[len("data: ") :]) for line in body.splitlines() if line.startswith("data: ")]


def test_sse_stream_sends_the_same_events(client: TestClient) -> None:
    r = client.post("/api/v1/chat/stream", json={"agent_id": 1, "message": "hola sse", "session_id": "sse-1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert_turn(events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_sse_failure_before_the_stream_is_an_http_error(client: TestClient, model: ScriptedChatModel) -> None:
    r = client.post("/api/v1/chat/stream", json={"agent_id": 404, "message": "hola", "session_id": "sse-2"})
    assert (r.status_code, r.json()["code"]) == (404, "agent_not_found")
    model.fail_before_first_token = True
    r = client.post("/api/v1/chat/stream", json={"agent_id": 1, "message": "hola", "session_id": "sse-2"})
    assert (r.status_code, r.json()["code"]) == (503, "llm_unavailable")


def test_sse_failure_after_the_stream_started_is_an_error_event(
    client: TestClient, model: ScriptedChatModel
) -> None:
    model.answer = "uno dos tres"
    model.fail_after_pieces = 1
    r = client.post("/api/v1/chat/stream", json={"agent_id": 1, "message": "hola", "session_id": "sse-3"})
    events = sse_events(r.text)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "llm_stream_failed"


def _leave_mid_answer(client: TestClient, model: ScriptedChatModel, session: str) -> dict:
    model.answer = "una respuesta larga que llega despacio palabra a palabra"
    model.piece_delay = 0.05
    with client.websocket_connect(f"/api/v1/chat/stream/{session}/1") as ws:
        ws.send_json({"message": "cuéntame"})
        assert ws.receive_json()["type"] == "visitor_message"
        start = ws.receive_json()
        ws.receive_json()  # sources
        first = ws.receive_json()
        assert first["type"] == "token"
    return start  # the socket is closed here, mid-answer


def _final_reply(client: TestClient, start: dict) -> dict:
    import time

    url = f"/api/v1/conversations/{start['conversation_id']}/messages"
    for _ in range(100):
        reply = client.get(url).json()[-1]
        if reply["status"] != "interrupted":
            break
        time.sleep(0.05)
    return reply


def test_a_client_closing_mid_stream_does_not_stop_its_answer(
    client: TestClient, model: ScriptedChatModel
) -> None:
    start = _leave_mid_answer(client, model, "ws-cut")
    reply = _final_reply(client, start)
    assert reply["id"] == start["message_id"] and reply["status"] == "complete"
    assert reply["content"] == model.answer  # streamed to its end with nobody connected


def test_with_stream_on_disconnect_cancel_a_client_closing_leaves_an_interrupted_reply(
    model: ScriptedChatModel,
) -> None:
    import time

    from tests.api.test_rate_limits import make_client

    with make_client(model, STREAM_ON_DISCONNECT="cancel") as client:
        start = _leave_mid_answer(client, model, "ws-cancel")
        url = f"/api/v1/conversations/{start['conversation_id']}/messages"
        for _ in range(50):
            reply = client.get(url).json()[-1]
            if reply["content"]:
                break
            time.sleep(0.05)
    assert reply["id"] == start["message_id"] and reply["status"] == "interrupted"
    assert reply["content"].startswith("una ") and reply["content"] != model.answer
    assert model.closed_streams == 1  # the provider stream was closed, not left running


def test_sse_events_carry_their_event_id_as_the_id_line(client: TestClient) -> None:
    r = client.post("/api/v1/chat/stream", json={"agent_id": 1, "message": "hola", "session_id": "sse-id"})
    ids = [int(line[len("id: ") :]) for line in r.text.splitlines() if line.startswith("id: ")]
    events = sse_events(r.text)
    assert ids == [e["event_id"] for e in events] and ids == list(range(1, len(events) + 1))
