"""`kill -9` of the server mid-stream keeps the text already streamed to the visitor (within one save interval),
in the stored reply and in the conversation's feed.

The real server on the embedded MongoDB streams a slow answer over the WebSocket; after some tokens it is
SIGKILLed (its SecantusDB child stops with it), restarted on the same DATA_DIR, and the stored reply must hold
at least what the visitor had received one interval (plus a margin for a loaded machine) before the kill.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.e2e.server import server_process
from tests.e2e.test_turn_durability_e2e import KEY, conversation_of, mongo_env, socket_url
from tests.fakes.fake_llm import FakeLLMServer

INTERVAL = 0.5  # STREAM_SAVE_SECONDS
MARGIN = 1.5  # seconds of slack on a busy machine: a save started before it has landed by the kill


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    # 400 tokens at 20 per second: the answer is still streaming when the server is killed.
    with FakeLLMServer(api_keys=KEY, answer_tokens=400, tokens_per_second=20).run_in_thread() as server:
        yield server


async def test_kill_9_mid_stream_keeps_what_the_visitor_saw(llm: FakeLLMServer, tmp_path: Path) -> None:
    env = {**mongo_env(tmp_path, llm), "STREAM_SAVE_SECONDS": str(INTERVAL)}
    received: list[tuple[float, str]] = []  # (when, text so far)
    with server_process(env, tmp_path) as (process, url):
        async with websockets.connect(socket_url(url, "crash-visitor")) as ws:
            await ws.send(json.dumps({"message": "cuéntame todo"}))
            text = ""
            started = None
            while started is None or time.monotonic() - started < 3:
                event = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert event["type"] in ("visitor_message", "start", "sources", "token"), event
                if event["type"] == "token":
                    started = started or time.monotonic()
                    text += event["content"]
                    received.append((time.monotonic(), text))
            process.kill()  # SIGKILL: no shutdown drain, no final write
            process.wait()
            killed_at = time.monotonic()
    seen_before = [t for when, t in received if when <= killed_at - INTERVAL - MARGIN]
    assert seen_before, "the visitor got no tokens early enough to be saved"

    with server_process(env, tmp_path) as (_, url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            _, messages = await conversation_of(client, "crash-visitor")
        # The conversation's feed kept the streamed pieces too: a client resuming from 0 gets them again.
        async with websockets.connect(socket_url(url, "crash-visitor")) as ws:
            await ws.send(json.dumps({"type": "resume", "after_event_id": 0}))
            replayed = ""
            while not replayed.startswith(seen_before[-1]):
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                replayed += event["content"] if event["type"] == "token" else ""
    assert text.startswith(replayed) or replayed.startswith(text)
    assert [m["role"] for m in messages] == ["user", "assistant"], messages
    reply = messages[1]
    assert reply["status"] == "interrupted", reply
    assert reply["content"].startswith(seen_before[-1]), (len(reply["content"]), len(seen_before[-1]))
    assert text.startswith(reply["content"]) or reply["content"].startswith(text)
