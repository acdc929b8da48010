"""Tests for the fake Groq/OpenAI server, driven through the real client libraries.

Notes for whoever copies these patterns:
* create ChatGroq per test: one instance reused across event loops fails;
* ChatOpenAI caches its default async httpx client per (base_url, timeout) *globally*,
  so even fresh instances share it across tests/event loops; pass ``http_async_client``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import groq
import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_groq import ChatGroq
from langchain_openai import ChatOpenAI

from tests.fakes.fake_llm import FakeLLMClient, FakeLLMServer, Fault

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama-3.1-8b-instant"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeLLMServer]:
    # one server for the module (stopping uvicorn takes ~0.2 s); ``srv`` resets it per test
    with FakeLLMServer(api_keys="test-key", answer_tokens=8).run_in_thread() as server:
        yield server


@pytest.fixture
def srv(shared_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    shared_server.reset()
    settings = shared_server.state()["config"]
    yield shared_server
    shared_server.configure(**settings)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


GroqFactory = Callable[..., ChatGroq]


@pytest.fixture
async def groq_llm(srv: FakeLLMServer) -> AsyncIterator[GroqFactory]:
    """Make ChatGroq clients for this test; close them on the test's own event loop
    (otherwise the groq SDK's client ``__del__`` later schedules ``aclose`` and asyncio
    logs "Task exception was never retrieved ... Event loop is closed")."""
    made: list[ChatGroq] = []

    def make(**kwargs: Any) -> ChatGroq:
        kwargs.setdefault("api_key", "test-key")
        llm = ChatGroq(base_url=srv.base_url, model=MODEL, **kwargs)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        await llm.async_client._client.close()


def openai_llm(srv: FakeLLMServer, client: httpx.AsyncClient, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{srv.base_url}/v1",
        api_key="test-key",  # type: ignore[arg-type]
        model="gpt-4o-mini",
        stream_usage=True,
        http_async_client=client,
        **kwargs,
    )


async def collect(llm: ChatGroq | ChatOpenAI, prompt: Any, into: list[AIMessageChunk]) -> AIMessageChunk:
    """Stream ``prompt``, appending chunks to ``into`` (kept if it raises); return the sum."""
    async for chunk in llm.astream(prompt):
        assert isinstance(chunk, AIMessageChunk)
        into.append(chunk)
    total = into[0]
    for chunk in into[1:]:
        total = total + chunk
    return total


# ---------------------------------------------------------------------- happy paths


async def test_chatgroq_invoke_text_usage_and_metadata(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    reply = await groq_llm().ainvoke("hello world")

    assert isinstance(reply, AIMessage)
    assert reply.content == "Echo: hello world lorem ipsum dolor sit amet"
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == 2
    assert reply.usage_metadata["output_tokens"] == 8
    assert reply.usage_metadata["total_tokens"] == 10
    assert reply.response_metadata["model_name"] == MODEL
    assert reply.response_metadata["finish_reason"] == "stop"
    assert srv.last_request is not None
    assert srv.last_request["path"] == "/openai/v1/chat/completions"  # the SDK adds /openai/v1


async def test_chatgroq_astream_one_token_per_chunk_with_x_groq_usage(
    srv: FakeLLMServer, groq_llm: GroqFactory
) -> None:
    chunks: list[AIMessageChunk] = []
    total = await collect(groq_llm(), "hello stream", chunks)

    assert [c.content for c in chunks if c.content] == [
        "Echo: ",
        "hello ",
        "stream ",
        "lorem ",
        "ipsum ",
        "dolor ",
        "sit ",
        "amet",
    ]
    assert total.content == "Echo: hello stream lorem ipsum dolor sit amet"
    assert total.usage_metadata == {"input_tokens": 2, "output_tokens": 8, "total_tokens": 10}
    assert total.response_metadata["finish_reason"] == "stop"
    assert total.response_metadata["model_name"] == MODEL
    assert srv.last_request is not None and srv.last_request["stream"] is True


def test_chatgroq_sync_invoke(srv: FakeLLMServer) -> None:
    srv.configure(answer="Short fixed answer.")
    llm = ChatGroq(api_key="test-key", base_url=srv.base_url, model=MODEL)  # type: ignore[arg-type]
    reply = llm.invoke("anything")
    assert reply.content == "Short fixed answer."
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == 3


async def test_max_tokens_cuts_answer_with_length_finish(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    reply = await groq_llm(max_tokens=3, temperature=0.2).ainvoke("one two three four")
    assert reply.content == "Echo: one two "  # a prefix of the full answer, token-exact
    assert reply.response_metadata["finish_reason"] == "length"
    assert srv.last_request is not None
    assert srv.last_request["max_tokens"] == 3
    assert srv.last_request["temperature"] == 0.2


async def test_records_full_prompt_including_history(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    history: list[BaseMessage] = [
        SystemMessage("You are a call-center agent."),
        HumanMessage("My order is late"),
        AIMessage("Sorry to hear that"),
        HumanMessage("Where is it?"),
    ]
    reply = await groq_llm().ainvoke(history)

    assert isinstance(reply.content, str) and reply.content.startswith("Echo: Where is it? ")
    record = srv.last_request
    assert record is not None
    assert [(m["role"], m["content"]) for m in record["messages"]] == [
        ("system", "You are a call-center agent."),
        ("user", "My order is late"),
        ("assistant", "Sorry to hear that"),
        ("user", "Where is it?"),
    ]
    assert record["model"] == MODEL and record["stream"] is False and record["fault"] is None
    assert reply.usage_metadata is not None and reply.usage_metadata["input_tokens"] == 16  # words


async def test_chatopenai_invoke_and_stream_usage(srv: FakeLLMServer, http_client: httpx.AsyncClient) -> None:
    llm = openai_llm(srv, http_client)
    reply = await llm.ainvoke("hi")
    assert reply.content == "Echo: hi lorem ipsum dolor sit amet consectetur"
    assert reply.usage_metadata is not None and reply.usage_metadata["total_tokens"] == 9
    assert reply.response_metadata["model_name"] == "gpt-4o-mini"

    chunks: list[AIMessageChunk] = []
    total = await collect(llm, "hello stream", chunks)
    assert total.content == "Echo: hello stream lorem ipsum dolor sit amet"
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == 2
    assert total.usage_metadata["output_tokens"] == 8
    assert total.response_metadata["model_name"] == "gpt-4o-mini"
    assert total.response_metadata["finish_reason"] == "stop"
    record = srv.last_request
    assert record is not None
    assert record["path"] == "/v1/chat/completions" and record["api"] == "openai"
    assert record["stream_options"] == {"include_usage": True}


async def test_openai_wire_format_usage_chunk(srv: FakeLLMServer, http_client: httpx.AsyncClient) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": "Bearer test-key"}
    response = await http_client.post(f"{srv.base_url}/v1/chat/completions", json=body, headers=headers)
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"] == [] and last["usage"]["total_tokens"] == 9
    finish = json.loads(events[-3])
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["usage"] is None
    assert "x_groq" not in finish


async def test_groq_sdk_base_url_models_and_env(srv: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = groq.AsyncGroq(api_key="test-key", base_url=srv.base_url)
    models = await client.models.list()
    assert srv.base_url is not None and str(client.base_url).rstrip("/") == srv.base_url
    assert next(m.id for m in models.data) == MODEL
    assert (await client.models.retrieve(MODEL)).owned_by == "Meta"
    await client.close()

    # ChatGroq reads GROQ_API_BASE itself; when unset the groq SDK falls back to GROQ_BASE_URL.
    monkeypatch.delenv("GROQ_API_BASE", raising=False)
    monkeypatch.setenv("GROQ_BASE_URL", srv.base_url or "")
    llm = ChatGroq(api_key="test-key", model=MODEL)  # type: ignore[arg-type]
    reply = await llm.ainvoke("env")
    assert reply.content.startswith("Echo: env")
    await llm.async_client._client.close()


async def test_openai_models_endpoint(srv: FakeLLMServer, http_client: httpx.AsyncClient) -> None:
    client = openai.AsyncOpenAI(api_key="test-key", base_url=f"{srv.base_url}/v1", http_client=http_client)
    page = await client.models.list()
    assert {m.object for m in page.data} == {"model"}
    assert MODEL in [m.id for m in page.data]


# ---------------------------------------------------------------------- auth and errors


async def test_wrong_key_is_401_authentication_error(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    llm = groq_llm(api_key="wrong-key", max_retries=0)
    with pytest.raises(groq.AuthenticationError) as info:
        await llm.ainvoke("hi")
    assert info.value.status_code == 401
    # for HTTP errors the SDK's body is the whole JSON document
    assert info.value.body == {
        "error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    assert srv.requests == []


async def test_any_nonempty_key_accepted_by_default(http_client: httpx.AsyncClient) -> None:
    with FakeLLMServer().run_in_thread() as server:
        url = f"{server.base_url}/openai/v1/models"
        assert (await http_client.get(url, headers={"authorization": "Bearer whatever"})).status_code == 200
        assert (await http_client.get(url)).status_code == 401
        assert (await http_client.get(url, headers={"authorization": "Basic dGVzdA=="})).status_code == 401


async def test_bad_requests(srv: FakeLLMServer, http_client: httpx.AsyncClient) -> None:
    headers = {"authorization": "Bearer test-key"}
    url = f"{srv.base_url}/openai/v1/chat/completions"
    response = await http_client.post(url, content=b"{nope", headers=headers)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    response = await http_client.post(url, json={"model": MODEL, "messages": []}, headers=headers)
    assert response.status_code == 400
    response = await http_client.get(f"{srv.base_url}/openai/v1/nowhere", headers=headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_url"


# ---------------------------------------------------------------------- faults through ChatGroq


async def test_rate_limit_raises_with_retry_after(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("rate_limit", retry_after=2)
    with pytest.raises(groq.RateLimitError) as info:
        await groq_llm(max_retries=0).ainvoke("hi")
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert isinstance(info.value.body, dict) and info.value.body["error"]["code"] == "rate_limit_exceeded"
    # one fault consumed per request: the next one succeeds
    assert (await groq_llm(max_retries=0).ainvoke("hi")).content


async def test_sdk_retries_honour_retry_after(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("rate_limit", retry_after=0.05)  # floats are honoured: fast retries in tests
    srv.push_fault("rate_limit", retry_after=0.05)
    reply = await groq_llm(max_retries=2).ainvoke("retry me")
    assert reply.content.startswith("Echo: retry me")
    assert [r["fault"] for r in srv.requests] == ["rate_limit", "rate_limit", None]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("kind", "status"), [("unavailable", 503), ("server_error", 500), ("rate_limit", 429)]
)
async def test_http_error_faults(
    srv: FakeLLMServer, groq_llm: GroqFactory, kind: str, status: int, stream: bool
) -> None:
    srv.push_fault(kind)
    llm = groq_llm(max_retries=0)
    with pytest.raises(groq.APIStatusError) as info:
        if stream:
            await collect(llm, "hi", [])
        else:
            await llm.ainvoke("hi")
    assert info.value.status_code == status
    expected = groq.RateLimitError if status == 429 else groq.InternalServerError
    assert type(info.value) is expected


async def test_stall_times_out(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("stall", seconds=5)
    started = time.monotonic()
    with pytest.raises(groq.APITimeoutError):
        await groq_llm(max_retries=0, timeout=0.3).ainvoke("hi")
    # streaming: headers arrive, then nothing; the groq SDK does not wrap body read errors
    srv.push_fault("stall", seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        await collect(groq_llm(max_retries=0, timeout=0.3), "hi", [])
    assert time.monotonic() - started < 3


async def test_short_stall_only_delays(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault(Fault("stall", seconds=0.2))
    started = time.monotonic()
    reply = await groq_llm().ainvoke("slow")
    assert time.monotonic() - started >= 0.2
    assert reply.content.startswith("Echo: slow")


async def test_midstream_error_raises_api_error_after_some_tokens(
    srv: FakeLLMServer, groq_llm: GroqFactory
) -> None:
    srv.push_fault("midstream_error", after_tokens=3, message="model over capacity")
    chunks: list[AIMessageChunk] = []
    with pytest.raises(groq.APIError) as info:
        await collect(groq_llm(max_retries=0), "hi", chunks)
    assert not isinstance(info.value, groq.APIStatusError)
    assert info.value.message == "model over capacity"
    # for in-stream errors the SDK's body is the inner "error" object
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "internal_server_error"
    assert "".join(str(c.content) for c in chunks) == "Echo: hi lorem "


async def test_midstream_x_groq_error_truncates_silently(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("midstream_error", after_tokens=2, style="x_groq")
    chunks: list[AIMessageChunk] = []
    total = await collect(groq_llm(max_retries=0), "hi", chunks)
    assert total.content == "Echo: hi "
    assert total.usage_metadata is None
    assert "finish_reason" not in total.response_metadata


async def test_midstream_error_on_non_streaming_is_500(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("midstream_error")
    with pytest.raises(groq.InternalServerError):
        await groq_llm(max_retries=0).ainvoke("hi")


@pytest.mark.parametrize("stream", [False, True])
async def test_malformed_raises_json_decode_error(
    srv: FakeLLMServer, groq_llm: GroqFactory, stream: bool
) -> None:
    srv.push_fault("malformed", after_tokens=2)
    llm = groq_llm(max_retries=0)
    with pytest.raises(json.JSONDecodeError):
        if stream:
            await collect(llm, "hi", [])
        else:
            await llm.ainvoke("hi")


async def test_disconnect(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.push_fault("disconnect")
    with pytest.raises(groq.APIConnectionError):
        await groq_llm(max_retries=0).ainvoke("hi")
    srv.push_fault("disconnect", after_tokens=2)
    chunks: list[AIMessageChunk] = []
    with pytest.raises(httpx.RemoteProtocolError):
        await collect(groq_llm(max_retries=0), "hi", chunks)
    assert "".join(str(c.content) for c in chunks) == "Echo: hi "


async def test_sticky_fault_after_queue_until_cleared(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    srv.set_sticky_fault("unavailable")
    srv.push_fault("rate_limit")
    llm = groq_llm(max_retries=0)
    with pytest.raises(groq.RateLimitError):
        await llm.ainvoke("1")
    for _ in range(2):
        with pytest.raises(groq.InternalServerError):
            await llm.ainvoke("2")
    srv.set_sticky_fault(None)
    assert (await llm.ainvoke("3")).content


# ---------------------------------------------------------------------- faults through ChatOpenAI


async def test_chatopenai_faults(srv: FakeLLMServer, http_client: httpx.AsyncClient) -> None:
    llm = openai_llm(srv, http_client, max_retries=0, timeout=0.3)
    srv.push_fault("rate_limit")
    with pytest.raises(openai.RateLimitError):
        await llm.ainvoke("hi")
    srv.push_fault("midstream_error")
    with pytest.raises(openai.APIError):
        await collect(llm, "hi", [])
    srv.push_fault("stall", seconds=5)
    with pytest.raises(openai.APITimeoutError):  # the openai SDK wraps stream read errors
        await collect(llm, "hi", [])
    srv.push_fault("disconnect")
    with pytest.raises(openai.APIConnectionError):
        await collect(llm, "hi", [])


# ---------------------------------------------------------------------- control plane


async def test_control_endpoint_from_another_client(srv: FakeLLMServer, groq_llm: GroqFactory) -> None:
    assert srv.base_url is not None
    remote = FakeLLMClient(srv.base_url)
    await asyncio.to_thread(remote.push_fault, "rate_limit", retry_after=3)
    await asyncio.to_thread(remote.set_sticky_fault, {"kind": "stall", "seconds": 1})
    state = await asyncio.to_thread(remote.state)
    assert state["queued"][0]["kind"] == "rate_limit" and state["queued"][0]["retry_after"] == 3
    assert state["sticky"]["kind"] == "stall"

    await asyncio.to_thread(remote.reset)
    await asyncio.to_thread(remote.configure, answer="configured remotely")
    assert (await groq_llm().ainvoke("hi")).content == "configured remotely"
    recorded = await asyncio.to_thread(lambda: remote.requests)
    assert recorded[0]["messages"] == [{"role": "user", "content": "hi"}]

    with pytest.raises(Exception, match="400"):
        await asyncio.to_thread(remote.control, faults=[{"kind": "nope"}])


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="unknown fault parameter"):
        Fault.parse({"kind": "stall", "secs": 1})
    assert Fault.parse("stall", seconds=2) == Fault(kind="stall", seconds=2)


def test_record_limit_and_reset() -> None:
    with FakeLLMServer(record_limit=2, answer="ok").run_in_thread() as server:
        llm = ChatGroq(api_key="k", base_url=server.base_url, model=MODEL)  # type: ignore[arg-type]
        for prompt in ("a", "b", "c"):
            llm.invoke(prompt)
        assert [r["messages"][0]["content"] for r in server.requests] == ["b", "c"]
        server.push_fault("stall")
        server.reset()
        assert server.requests == [] and server.queued_faults == []


# ---------------------------------------------------------------------- timing


async def test_ttft_and_pace(http_client: httpx.AsyncClient) -> None:
    with FakeLLMServer(answer_tokens=21, ttft_ms=100, tokens_per_second=200).run_in_thread() as server:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}
        started = time.monotonic()
        first: float | None = None
        contents = 0
        async with http_client.stream(
            "POST",
            f"{server.base_url}/openai/v1/chat/completions",
            json=body,
            headers={"authorization": "Bearer k"},
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                    first = first or time.monotonic() - started
                    contents += 1
        total = time.monotonic() - started
    assert contents == 21
    assert first is not None and 0.095 <= first < 0.3
    assert 0.19 <= total < 0.8  # 100 ms + 20 tokens / 200 per second


async def test_pacing_batches_writes_by_tick() -> None:
    """Call the ASGI app directly: 1000 tok/s with a 10 ms tick means few writes."""
    app = FakeLLMServer(answer_tokens=101, tokens_per_second=1000, tick_ms=10)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True})
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/openai/v1/chat/completions",
        "headers": [(b"authorization", b"Bearer k")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.monotonic()
    await app(scope, receive, send)
    elapsed = time.monotonic() - started
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    stream = b"".join(bodies).decode()
    assert stream.count('"delta":{"content":') == 101
    assert stream.endswith("data: [DONE]\n\n")
    assert 0.095 <= elapsed < 0.6
    assert 3 <= len(bodies) <= 15  # far fewer writes than 101 tokens


# ---------------------------------------------------------------------- as a process


def test_runs_as_a_separate_process() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_llm", "--port", "0", "--answer", "from a process"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        remote = FakeLLMClient(base_url)
        remote.push_fault("unavailable")
        llm = ChatGroq(api_key="k", base_url=base_url, model=MODEL, max_retries=0)  # type: ignore[arg-type]
        with pytest.raises(groq.InternalServerError):
            llm.invoke("hi")
        assert llm.invoke("hi").content == "from a process"
        assert [r["fault"] for r in remote.requests] == ["unavailable", None]
    finally:
        process.terminate()
        process.wait(timeout=10)
