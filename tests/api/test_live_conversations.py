"""Live conversations (PRODUCT.md): event_id on every event, two tabs, resume after a drop, SSE Last-Event-ID
and reattach, the history's newest event_id, resume_gap — through Litestar's test client, memory store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from adapters.memory.feed import MemoryConversationFeed
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

ANSWER = "una respuesta larga que llega despacio palabra a palabra hasta el final"


@pytest.fixture
def slow_model() -> ScriptedChatModel:
    model = ScriptedChatModel()
    model.answer = ANSWER
    model.piece_delay = 0.03
    return model


def _client(model: ScriptedChatModel, feed: Any = None, **env: object) -> TestClient:
    settings = Settings(
        _env_file=None, STORAGE="memory", RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=0, **env
    )
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    if feed is not None:
        container.conversation_feed.override(providers.Object(feed))
    return TestClient(create_app(settings, container))


@pytest.fixture
def client(slow_model: ScriptedChatModel) -> Iterator[TestClient]:
    with _client(slow_model) as test_client:
        yield test_client


def until_end(ws: Any) -> list[dict[str, Any]]:
    events = []
    while not events or events[-1]["type"] not in ("end", "error"):
        events.append(ws.receive_json())
    return events


def answer_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "token")


def test_two_tabs_of_one_visitor_both_see_every_event_with_the_same_ids(client: TestClient) -> None:
    with (
        client.websocket_connect("/api/v1/chat/stream/tabs/1") as first,
        client.websocket_connect("/api/v1/chat/stream/tabs/1") as second,
    ):
        first.send_json({"message": "hola desde la primera pestaña"})
        sender = until_end(first)
        other = until_end(second)
    assert other[0]["type"] == "visitor_message" and other[0]["content"] == "hola desde la primera pestaña"
    # The same events with the same ids; tokens the second tab had not taken yet may come merged into one
    # frame carrying the last one's id.
    others = [(e["type"], e["event_id"]) for e in other if e["type"] != "token"]
    assert others == [(e["type"], e["event_id"]) for e in sender if e["type"] != "token"]
    assert {e["event_id"] for e in other} <= {e["event_id"] for e in sender}
    assert answer_of(sender) == answer_of(other) == other[-1]["answer"] == ANSWER


def test_a_dropped_connection_resumes_where_it_left_and_the_answer_went_on(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/chat/stream/drop/1") as ws:
        ws.send_json({"message": "cuéntame"})
        seen = [ws.receive_json() for _ in range(4)]  # visitor_message, start, sources, the first token
    assert [e["type"] for e in seen] == ["visitor_message", "start", "sources", "token"]
    with client.websocket_connect("/api/v1/chat/stream/drop/1") as ws:
        ws.send_json({"type": "resume", "after_event_id": seen[-1]["event_id"]})
        rest = until_end(ws)
    assert rest[0]["event_id"] == seen[-1]["event_id"] + 1 and rest[0]["seq"] == 1
    assert answer_of(seen + rest) == rest[-1]["answer"] == ANSWER  # nothing lost, nothing twice
    ids = [e["event_id"] for e in seen + rest]
    assert ids == sorted(set(ids))


def test_resume_from_zero_replays_the_conversation_then_goes_live(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/chat/stream/replay/1") as ws:
        ws.send_json({"message": "uno"})
        first = until_end(ws)
    with client.websocket_connect("/api/v1/chat/stream/replay/1") as ws:
        ws.send_json({"type": "resume", "after_event_id": 0})
        replayed = until_end(ws)
        ws.send_json({"message": "dos"})
        live = until_end(ws)
    assert [e["event_id"] for e in replayed if e["type"] != "token"] == [
        e["event_id"] for e in first if e["type"] != "token"
    ]
    assert answer_of(replayed) == answer_of(first)  # replayed tokens may come merged, never lost
    assert live[0]["event_id"] == first[-1]["event_id"] + 1 and live[0]["content"] == "dos"


def test_bad_resume_frames_are_refused_and_a_resume_during_a_turn_waits(client: TestClient) -> None:
    with client.websocket_connect("/api/v1/chat/stream/bad-resume/1") as ws:
        ws.send_json({"type": "resume", "after_event_id": "tres"})
        assert ws.receive_json()["code"] == "invalid_frame"
        ws.send_json({"type": "resume", "after_event_id": -1})
        assert ws.receive_json()["code"] == "invalid_frame"
        ws.send_json({"message": "hola"})
        ws.send_json({"type": "resume", "after_event_id": 0})
        events = until_end(ws)
    refusals = [e for e in events if "event_id" not in e]
    assert [e["code"] for e in refusals] == ["turn_in_progress"]


def test_the_history_route_gives_the_newest_event_id_to_resume_from(client: TestClient) -> None:
    empty = client.get("/api/v1/chat/history/hist-ev/1")
    assert empty.json() == [] and empty.headers["x-last-event-id"] == "0"
    r = client.post("/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": "hist-ev"})
    assert r.status_code == 200
    history = client.get("/api/v1/chat/history/hist-ev/1")
    assert [m["role"] for m in history.json()] == ["user", "assistant"]
    newest = int(history.headers["x-last-event-id"])
    assert newest == 5  # the REST turn went through the feed too: visitor_message, start, sources, token, end
    with client.websocket_connect("/api/v1/chat/stream/hist-ev/1") as ws:
        ws.send_json({"type": "resume", "after_event_id": newest})
        ws.send_json({"message": "otra"})
        assert ws.receive_json()["event_id"] == newest + 1


def test_the_history_header_is_readable_cross_origin(slow_model: ScriptedChatModel) -> None:
    with _client(slow_model, CORS_ORIGINS="https://shop.example") as client:
        r = client.get("/api/v1/chat/history/cors-ev/1", headers={"Origin": "https://shop.example"})
    assert "x-last-event-id" in r.headers["access-control-expose-headers"].lower()


def sse(lines: Iterator[str]) -> Iterator[tuple[int | None, dict[str, Any]]]:
    event_id: int | None = None
    for line in lines:
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])
            event_id = None


def test_sse_with_last_event_id_reconnects_to_the_answer_in_progress(client: TestClient) -> None:
    body = {"agent_id": 1, "message": "cuéntame por sse", "session_id": "sse-resume"}
    seen: list[dict[str, Any]] = []
    with client.stream("POST", "/api/v1/chat/stream", json=body) as r:
        for event_id, event in sse(r.iter_lines()):
            assert event_id == event["event_id"]
            seen.append(event)
            if event["type"] == "token":
                break  # the connection drops mid-answer
    last = seen[-1]["event_id"]
    r = client.post("/api/v1/chat/stream", json=body, headers={"Last-Event-ID": str(last)})
    rest = [event for _, event in sse(iter(r.text.splitlines()))]
    assert rest[0]["event_id"] == last + 1 and rest[-1]["type"] == "end"
    assert answer_of(seen + rest) == rest[-1]["answer"] == ANSWER
    user_messages = [m for m in client.get("/api/v1/chat/history/sse-resume/1").json() if m["role"] == "user"]
    assert len(user_messages) == 1  # the reconnection sent no new message
    again = client.post(
        "/api/v1/chat/stream", json=body, headers={"Last-Event-ID": str(rest[-1]["event_id"])}
    )
    assert again.status_code == 200 and again.text.strip() == ""  # nothing new, nothing in progress


def test_a_bad_last_event_id_is_422(client: TestClient) -> None:
    body = {"agent_id": 1, "message": "hola", "session_id": "bad-leid"}
    r = client.post("/api/v1/chat/stream", json=body, headers={"Last-Event-ID": "ayer"})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_input")
    assert client.get("/api/v1/chat/stream/bad-leid/1?after_event_id=-1").status_code == 422


def test_resuming_from_before_what_is_kept_is_a_resume_gap(slow_model: ScriptedChatModel) -> None:
    slow_model.piece_delay = 0
    feed = MemoryConversationFeed(retention=timedelta(milliseconds=50))
    with _client(slow_model, feed=feed) as client:
        with client.websocket_connect("/api/v1/chat/stream/gap/1") as ws:
            ws.send_json({"message": "uno"})
            until_end(ws)
            time.sleep(0.1)
            ws.send_json({"message": "dos"})  # its events prune the first turn's
            until_end(ws)
        with client.websocket_connect("/api/v1/chat/stream/gap/1") as ws:
            ws.send_json({"type": "resume", "after_event_id": 0})
            error = ws.receive_json()
        with client.stream("GET", "/api/v1/chat/stream/gap/1?after_event_id=0") as r:
            first = next(sse(r.iter_lines()))[1]
    assert (error["type"], error["code"]) == ("error", "resume_gap") and "history" in error["detail"]
    assert first["code"] == "resume_gap"
