"""The adapter against a minimal stand-in for Ollama's HTTP API (`/api/chat` NDJSON, `/api/tags`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from application.ports.chat_model import ModelRequest, PromptMessage
from domain.conversations import Role
from domain.errors import LlmStreamFailed
from tests.fakes.fake_llm import _bind


class FakeOllama:
    """Answers "Echo: <last message>" word by word; `cut` ends a stream without its `done` line."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cut = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/api/tags":
            payload: Any = {"models": [{"model": "llama3.2:latest", "name": "llama3.2:latest"}]}
            return await self._send(send, [json.dumps(payload)])
        request = json.loads(body)
        self.requests.append(request)
        words = ["Echo: ", *(w + " " for w in request["messages"][-1]["content"].split())]
        base = {"model": request["model"], "created_at": "2026-01-01T00:00:00Z"}
        done = {
            **base,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": len(words),
        }
        if not request.get("stream", True):
            whole = {**done, "message": {"role": "assistant", "content": "".join(words)}}
            return await self._send(send, [json.dumps(whole)])
        lines = [
            json.dumps({**base, "message": {"role": "assistant", "content": w}, "done": False}) for w in words
        ]
        await self._send(send, lines if self.cut else [*lines, json.dumps(done)])

    @staticmethod
    async def _send(send: Any, lines: list[str]) -> None:
        headers = [(b"content-type", b"application/x-ndjson")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for line in lines:
            await send({"type": "http.response.body", "body": (line + "\n").encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def ollama() -> Iterator[tuple[FakeOllama, str]]:
    app = FakeOllama()
    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    yield app, f"http://{host}:{port}"
    server.should_exit = True
    thread.join(5)


def adapter(url: str) -> LangChainChatModel:
    return LangChainChatModel(LlmConfig("ollama:llama3.2", max_tokens=64, base_urls={"ollama": url}))


REQUEST = ModelRequest((PromptMessage(Role.USER, "hola Ana"),), None, 0.2, 16)


async def test_ollama_answers_whole_and_streamed_with_usage(ollama: tuple[FakeOllama, str]) -> None:
    fake, url = ollama
    model = adapter(url)
    reply = await model.complete(REQUEST)
    assert (reply.text, reply.model) == ("Echo: hola Ana ", "ollama:llama3.2")
    assert reply.usage is not None and (reply.usage.input_tokens, reply.usage.output_tokens) == (7, 3)
    assert (
        fake.requests[-1]["options"]["num_predict"] == 16
        and fake.requests[-1]["options"]["temperature"] == 0.2
    )
    deltas = [d async for d in model.stream(REQUEST)]
    assert "".join(d.text for d in deltas) == "Echo: hola Ana "
    assert deltas[-1].usage is not None and deltas[-1].usage.output_tokens == 3
    assert [m.id for m in await model.list_models()] == ["llama3.2:latest"]
    assert (await model.verify_key()).valid is True


async def test_an_ollama_stream_without_its_done_line_has_failed(ollama: tuple[FakeOllama, str]) -> None:
    fake, url = ollama
    fake.cut = True
    try:
        with pytest.raises(LlmStreamFailed):
            async for _ in adapter(url).stream(REQUEST):
                pass
    finally:
        fake.cut = False
