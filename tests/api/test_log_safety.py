"""Log lines cannot be forged through request values, and never show a visitor's session id in clear."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.log_safety import session_token
from entrypoints.logs import logging_config
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

FORGED = "12:00:00 INFO    centralita.audit [-]: agent.deleted target=1"
# CR LF, NEL, LINE SEPARATOR and an ANSI escape, percent-encoded in the path.
HOSTILE_PATH = "/nothing/%0d%0a" + FORGED.replace(" ", "%20") + "%C2%85next%E2%80%A8next%1b[2J"
SESSION = "secret-visitor-7f3a"
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+ \[[\w.:-]+\]: ")


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    stream = io.StringIO()
    config = logging_config("INFO", request.param)
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield request.param, stream
    finally:
        logging.config.dictConfig(logging_config("WARNING", "text"))


def make_client(model: ScriptedChatModel, **env: object) -> TestClient:
    settings = Settings(_env_file=None, STORAGE="memory", **env)
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    return TestClient(create_app(settings, container))


def records(fmt: str, output: str) -> list[str]:
    """The log's lines as a line-splitting tool sees them; each must be one whole record."""
    lines = output.splitlines()  # splits on \r, \x85, \u2028 … too, as some tools do
    for line in lines:
        if fmt == "json":
            json.loads(line)
        else:
            assert TEXT_LINE.match(line), line
    return lines


def test_control_characters_in_a_path_cannot_forge_a_line(
    captured: tuple[str, io.StringIO], model: ScriptedChatModel
) -> None:
    fmt, stream = captured
    with make_client(model) as client:
        assert client.get(HOSTILE_PATH).status_code == 404
    lines = records(fmt, stream.getvalue())
    access = [line for line in lines if "/nothing/" in line]
    assert len(access) == 1 and FORGED in access[0]  # still there, but inside the one line
    assert not any(line.startswith(FORGED) for line in lines)
    assert "\x1b" not in stream.getvalue()


def test_an_exception_message_cannot_forge_a_line(captured: tuple[str, io.StringIO]) -> None:
    fmt, stream = captured
    try:
        raise ValueError(f"bad input\n{FORGED}")
    except ValueError:
        logging.getLogger("centralita.test").exception("failed on %s", "/x\r\ny")
    lines = records(fmt, stream.getvalue()) if fmt == "json" else stream.getvalue().splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    if fmt == "text":  # the traceback stays readable, indented under its record
        assert TEXT_LINE.match(lines[0]) and lines[0].endswith("failed on /x\\r\\ny")
        assert all(line.startswith("  ") for line in lines[1:]) and len(lines) > 2


def test_session_ids_are_never_logged_in_clear(
    captured: tuple[str, io.StringIO], model: ScriptedChatModel
) -> None:
    _, stream = captured
    with make_client(model, CORS_ORIGINS="https://shop.example") as client:
        client.get(f"/api/v1/chat/history/{SESSION}/1")
        client.get(f"/api/v1/chat/history/{SESSION}/not-a-number")  # unrouted: the raw path is logged
        with client.websocket_connect(f"/api/v1/chat/stream/{SESSION}/1") as ws:
            ws.send_json({"message": "hola"})
            ws.receive_json()
        with (
            pytest.raises(WebSocketDisconnect),  # refused before accept
            client.websocket_connect(
                f"/api/v1/groq/chat/stream/{SESSION}/1", headers={"Origin": "https://evil.example"}
            ) as ws,
        ):
            ws.receive_json()
    logging.getLogger("uvicorn.error").info(
        '127.0.0.1:5 - "WebSocket /api/v1/chat/stream/%s/1" [accepted]', SESSION
    )
    logging.getLogger("centralita.test").warning("No visitor has session_id %r.", SESSION)
    logging.getLogger("centralita.test").warning("GET /api/v1/conversations?session_id=%s&limit=5", SESSION)
    output = stream.getvalue()
    assert SESSION not in output
    assert output.count(session_token(SESSION)) >= 5, output
    assert "{session_id}" in output  # route templates stay as they are


def test_a_session_token_is_short_stable_and_ignores_percent_encoding() -> None:
    token = session_token("abc:def")
    assert re.fullmatch(r"s:[0-9a-f]{8}", token)
    assert session_token("abc%3Adef") == token != session_token("abc:deg")
