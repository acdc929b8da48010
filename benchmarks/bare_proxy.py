"""The bare proxy: the physical limit Centralita is measured against (issue 7).

A Litestar app on the same server stack as `centralita serve` (uvicorn, one worker, uvloop/httptools,
websockets) and the same HTTP client as our LangChain adapter (the groq SDK's `AsyncGroq` over httpx, one
long-lived client), serving the same REST and WebSocket shapes with no use-case logic: no store, no
retrieval, no prompt, no history. Frames are encoded with msgspec, one `token` frame per provider chunk.

Run by `benchmarks/run.py`; by hand::

    GROQ_API_KEY=k GROQ_BASE_URL=http://127.0.0.1:8765 \
        .venv/bin/uvicorn benchmarks.bare_proxy:create_app --factory --port 8100
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from groq import AsyncGroq
from litestar import Litestar, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect

MODEL = "llama-3.1-8b-instant"
SYSTEM = "You are a helpful assistant."
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class ChatBody(msgspec.Struct):
    agent_id: int
    message: str
    session_id: str
    origin: str | None = None


def _client(state: State) -> AsyncGroq:
    client: AsyncGroq = state.client
    return client


def _messages(text: str) -> list[Any]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


@post("/api/v1/chat", status_code=200)
async def chat(data: ChatBody, state: State) -> dict[str, Any]:
    reply = await _client(state).chat.completions.create(model=MODEL, messages=_messages(data.message))
    usage = reply.usage
    return {
        "answer": reply.choices[0].message.content or "",
        "agent_id": data.agent_id,
        "session_id": data.session_id,
        "conversation_id": uuid.uuid4().hex,
        "message_id": uuid.uuid4().hex,
        "model": f"groq:{reply.model}",
        "sources": [],
        "usage": {
            "input_tokens": usage.prompt_tokens if usage else 0,
            "output_tokens": usage.completion_tokens if usage else 0,
            "total_tokens": usage.total_tokens if usage else 0,
        },
    }


@websocket("/api/v1/chat/stream/{session_id:str}/{agent_id:int}")
async def chat_stream(socket: WebSocket[Any, Any, Any], session_id: str, agent_id: int) -> None:
    await socket.accept()
    client = _client(socket.app.state)
    seq = 0

    async def send(payload: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        payload["seq"] = seq
        await socket.send_data(_encoder.encode(payload).decode())

    try:
        while True:
            frame = _decoder.decode(await socket.receive_data(mode="text"))
            message_id = uuid.uuid4().hex
            await send({"type": "start", "message_id": message_id, "conversation_id": session_id})
            await send({"type": "sources", "sources": []})
            stream = await client.chat.completions.create(
                model=MODEL, messages=_messages(frame["message"]), stream=True
            )
            parts: list[str] = []
            async for chunk in stream:
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    parts.append(text)
                    await send({"type": "token", "content": text})
            await send(
                {
                    "type": "end",
                    "message_id": message_id,
                    "answer": "".join(parts),
                    "usage": None,
                    "model": MODEL,
                }
            )
    except WebSocketDisconnect:
        return


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = AsyncGroq(api_key=os.environ["GROQ_API_KEY"], base_url=os.environ["GROQ_BASE_URL"])
        app.state.client = client
        try:
            yield
        finally:
            await client.close()

    return Litestar(route_handlers=[chat, chat_stream, health], lifespan=[lifespan], logging_config=None)
