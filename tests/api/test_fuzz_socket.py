"""Random frames at the WebSocket: every answer is an `error` event or a proper close, never a crash.

Text of any kind, binary, invalid UTF-8, frames above the size limit and JSON of the wrong shape; after each
frame the connection either answers with well-formed events or closes with a protocol code (1009 too big),
and a good turn still works afterwards when it stayed open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from tests.api.test_chat_stream import read_turn
from tests.api.test_rate_limits import make_client
from tests.fakes.chat_model import ScriptedChatModel

MAX_FRAME = 4096

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
frames = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.binary(min_size=1, max_size=20).map(lambda b: b"\xff" + b),  # never valid UTF-8
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(["message", "mensaje", "origin", "type"]), json_values, max_size=3).map(
        json.dumps
    ),
    st.integers(MAX_FRAME + 1, MAX_FRAME * 3).map(lambda n: '{"message": "' + "x" * n + '"}'),
)


@pytest.fixture(scope="module")
def socket_client() -> Iterator[TestClient]:
    model = ScriptedChatModel()
    with make_client(
        model, WS_MAX_FRAME_BYTES=MAX_FRAME, RATE_LIMIT_SESSION_PER_MINUTE=0, RATE_LIMIT_IP_PER_MINUTE=0
    ) as client:
        yield client


def _events_until_quiet(ws: Any) -> list[dict[str, Any]]:
    """The answer to one frame: a whole turn, or one error event."""
    first = ws.receive_json()
    if first["type"] == "error":
        return [first]
    return [first, *read_turn(ws)]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(frame=frames)
def test_random_frames_get_error_events_or_a_proper_close(
    socket_client: TestClient, frame: str | bytes
) -> None:
    with socket_client.websocket_connect("/api/v1/chat/stream/fuzz-ws/1") as ws:
        if isinstance(frame, bytes):
            ws.send_bytes(frame)
        else:
            ws.send_text(frame)
        try:
            events = _events_until_quiet(ws)
        except WebSocketDisconnect as closed:
            assert (
                closed.code == 1009 and len(frame.encode() if isinstance(frame, str) else frame) > MAX_FRAME
            )
            return
        for event in events:
            assert event["type"] in ("start", "sources", "token", "end", "error"), event
            if event["type"] == "error":
                assert isinstance(event["code"], str) and isinstance(event["detail"], str)
                assert "Traceback" not in event["detail"]
        seqs = [event["seq"] for event in events]
        assert seqs == list(range(1, len(seqs) + 1))
        ws.send_json({"message": "¿sigues ahí?"})  # still serving after a bad frame
        assert _events_until_quiet(ws)[-1]["type"] == "end"
