"""Frames sent back-to-back: the accepted turn's `start` comes first, refusals of later frames after it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from application.chat import ChatService
from tests.api.test_rate_limits import make_client
from tests.fakes.chat_model import ScriptedChatModel


@pytest.fixture(autouse=True)
def slow_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn setup (store writes, retrieval) takes a while, as on MongoDB: the second frame arrives during it."""
    original = ChatService.prepare

    async def prepare(self: ChatService, accepted: Any) -> Any:
        await asyncio.sleep(0.3)
        return await original(self, accepted)

    monkeypatch.setattr(ChatService, "prepare", prepare)


PATHS = ["/api/v1/chat/stream/{session}/1", "/api/v1/groq/chat/stream/{session}/1"]


def _until_end(ws: Any) -> list[dict[str, Any]]:
    events = []
    while not events or events[-1]["type"] != "end":
        events.append(ws.receive_json())
    return events


@pytest.mark.parametrize("path", PATHS)
def test_a_second_frame_during_setup_is_refused_after_the_first_turns_start(path: str) -> None:
    with (
        make_client(
            ScriptedChatModel(), RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=0
        ) as client,
        client.websocket_connect(path.format(session="order-1")) as ws,
    ):
        ws.send_json({"message": "primera"})
        ws.send_json({"message": "segunda"})
        events = _until_end(ws)
    assert [(e["type"], e["seq"]) for e in events[:2]] == [("visitor_message", 1), ("start", 2)], events[:3]
    refusals = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in refusals] == ["turn_in_progress"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("path", PATHS)
def test_a_rate_limited_frame_during_setup_is_refused_after_the_first_turns_start(path: str) -> None:
    with (
        make_client(
            ScriptedChatModel(), RATE_LIMIT_SESSION_PER_MINUTE=1, RATE_LIMIT_IP_PER_MINUTE=0
        ) as client,
        client.websocket_connect(path.format(session="order-2")) as ws,
    ):
        ws.send_json({"message": "primera"})
        ws.send_json({"message": "segunda"})
        events = _until_end(ws)
    assert [(e["type"], e["seq"]) for e in events[:2]] == [("visitor_message", 1), ("start", 2)], events[:3]
    assert [e["code"] for e in events if e["type"] == "error"] == ["rate_limited"]


def test_connections_beyond_the_per_address_cap_are_refused_with_1008() -> None:
    from litestar.exceptions import WebSocketDisconnect

    with make_client(ScriptedChatModel(), WS_MAX_CONNECTIONS_PER_IP=2) as client:
        with (
            client.websocket_connect("/api/v1/chat/stream/ip-a/1"),
            client.websocket_connect("/api/v1/chat/stream/ip-b/1"),
            client.websocket_connect("/api/v1/chat/stream/ip-c/1") as third,
        ):
            refusal = third.receive_json()
            try:
                third.receive_json()
                raise AssertionError("the third connection stayed open")
            except WebSocketDisconnect as closed:
                assert closed.code == 1008 and closed.detail == "too_many_connections"
        assert refusal["type"] == "error" and refusal["code"] == "too_many_connections"
        with client.websocket_connect("/api/v1/chat/stream/ip-d/1") as again:  # the others left: room again
            again.send_json({"message": "hola"})
            assert again.receive_json()["type"] == "visitor_message"
