"""A fake LLM server that speaks Groq's (and OpenAI's) chat-completions HTTP API.

It is a bare ASGI application (stdlib + uvicorn only, no web framework) so that the
per-request overhead stays tiny: it is used both by tests and by the performance
benchmark. It serves

* ``POST /openai/v1/chat/completions`` -- Groq's path (what the ``groq`` SDK and
  ``ChatGroq`` call: the SDK appends ``/openai/v1/...`` to its base URL itself), and
  ``POST /v1/chat/completions`` -- the plain OpenAI path (``ChatOpenAI`` with
  ``base_url=<server>/v1``). Both JSON and SSE streaming (``"stream": true``).
* ``GET /openai/v1/models`` and ``GET /v1/models`` (and ``.../models/<id>``).
* Test-only control endpoints (no auth): ``GET|POST /_control``, ``POST /_reset``,
  ``GET /_requests``.

The answer is deterministic: ``"Echo: <last user message>"`` padded with filler words
to ``answer_tokens`` tokens (or a fixed ``answer``). A *token* is a word plus its
trailing space; streaming sends one token per SSE chunk. ``prompt_tokens`` is the
number of whitespace-separated words in all request messages.

Faults are scripted per request (a FIFO queue, one fault consumed per chat request)
or "sticky" (applied to every chat request while set); see :class:`Fault`.

Typical use in a test::

    with FakeLLMServer(answer="Hi there", api_keys="test-key").run_in_thread() as srv:
        llm = ChatGroq(api_key="test-key", base_url=srv.base_url, model="llama-3.1-8b-instant")
        srv.push_fault("rate_limit", retry_after=2)
        ...
        assert srv.last_request["messages"][-1]["content"] == "hello"

As a separate process::

    python -m tests.fakes.fake_llm --port 8765 --ttft-ms 50 --tokens-per-second 500 --answer-tokens 150

and drive it from another process with :class:`FakeLLMClient` (or raw HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import uvicorn

__all__ = ["FAULT_KINDS", "FakeLLMClient", "FakeLLMServer", "Fault", "main"]

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]

GROQ_PREFIX = "/openai/v1"
OPENAI_PREFIX = "/v1"

DEFAULT_MODELS: tuple[tuple[str, str], ...] = (
    ("llama-3.1-8b-instant", "Meta"),
    ("llama-3.3-70b-versatile", "Meta"),
    ("openai/gpt-oss-20b", "OpenAI"),
    ("openai/gpt-oss-120b", "OpenAI"),
)

FAULT_KINDS = frozenset(
    {"rate_limit", "unavailable", "server_error", "stall", "midstream_error", "malformed", "disconnect"}
)
_MIDSTREAM_STYLES = frozenset({"error", "x_groq"})

_FILLER: tuple[str, ...] = tuple(
    re.findall(r"\w+", "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor")
)

_TOKEN_RE = re.compile(r"\S+\s*")
_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]
_DONE = "data: [DONE]\n\n"

# Set inside a request that deliberately drops its connection, so the "returned
# without completing response" error uvicorn logs for it can be filtered out.
_dropping_connection: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fake_llm_dropping_connection", default=False
)


class _DeliberateDisconnectFilter(logging.Filter):
    """Silence uvicorn's error log for connections this fake closes on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _dropping_connection.get()


_uvicorn_error_logger = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _DeliberateDisconnectFilter) for f in _uvicorn_error_logger.filters):
    _uvicorn_error_logger.addFilter(_DeliberateDisconnectFilter())


@dataclass(frozen=True)
class Fault:
    """One scripted failure for a chat-completions request.

    kinds and the parameters they use:

    * ``rate_limit`` -- HTTP 429, Groq error JSON, ``retry-after: <retry_after>`` header
      (seconds; floats allowed -- the SDKs honour values in ``(0, 60]``).
    * ``unavailable`` -- HTTP 503 ("over capacity").
    * ``server_error`` -- HTTP 500.
    * ``stall`` -- accept the request and send nothing for ``seconds`` (streaming: the
      200 + SSE headers are sent first), then answer normally. Ends early if the
      client disconnects.
    * ``midstream_error`` -- stream ``after_tokens`` tokens, then an in-stream error and
      close. ``style="error"``: a ``data: {"error": {...}}`` event (the SDKs raise
      ``APIError``); ``style="x_groq"``: a chunk with ``choices: []`` and
      ``x_groq: {"error": "over capacity"}`` followed by ``[DONE]`` (the SDK does *not*
      raise: the answer is silently truncated, with no finish_reason and no usage).
      Non-streaming requests get an HTTP 500 instead.
    * ``malformed`` -- HTTP 200 with an invalid JSON body (non-streaming) or, when
      streaming, ``after_tokens`` tokens then a truncated ``data:`` line, then EOF.
    * ``disconnect`` -- close the TCP connection mid-response: after ``after_tokens``
      tokens when streaming, after half of the JSON body otherwise.

    ``message`` overrides the error message where there is one.
    """

    kind: str
    retry_after: float = 1.0
    seconds: float = 30.0
    after_tokens: int = 3
    message: str | None = None
    style: str = "error"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.style not in _MIDSTREAM_STYLES:
            raise ValueError(f"unknown midstream_error style {self.style!r}")

    @classmethod
    def parse(cls, spec: Fault | str | dict[str, Any], **params: Any) -> Fault:
        """Build a fault from a kind name (+ params), a JSON-style dict or a Fault."""
        if isinstance(spec, Fault):
            return spec
        if isinstance(spec, str):
            return cls(kind=spec, **params)
        if isinstance(spec, dict):
            known = {f.name for f in fields(cls)}
            unknown = set(spec) - known
            if unknown:
                raise ValueError(f"unknown fault parameter(s) {sorted(unknown)}")
            return cls(**{**spec, **params})
        raise TypeError(f"cannot build a Fault from {spec!r}")

    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by :meth:`parse` and the control endpoint."""
        return asdict(self)


def _text_of(content: Any) -> str:
    """Text of a message ``content``: a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _error_body(message: str, type_: str, code: str | None = None) -> bytes:
    error: dict[str, Any] = {"message": message, "type": type_}
    if code is not None:
        error["code"] = code
    return json.dumps({"error": error}).encode()


@dataclass
class _Completion:
    """Everything needed to render one chat completion."""

    groq: bool
    cid: str
    req_id: str
    created: int
    model: str
    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    include_usage: bool
    t0: float

    def usage(self, elapsed: float) -> dict[str, Any]:
        completion = len(self.tokens)
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.groq:
            usage.update(
                queue_time=0.0001,
                prompt_time=0.0001,
                completion_time=round(elapsed, 6),
                total_time=round(elapsed + 0.0002, 6),
            )
        else:
            usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
            usage["completion_tokens_details"] = {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        return usage


class _SSE:
    """Pre-rendered pieces of the SSE chunks of one streamed completion."""

    __slots__ = ("c", "head", "tail")

    def __init__(self, c: _Completion) -> None:
        self.c = c
        self.head = (
            f'data: {{"id":"{c.cid}","object":"chat.completion.chunk","created":{c.created},'
            f'"model":{json.dumps(c.model)},"system_fingerprint":"fp_fake",'
        )
        # OpenAI sends "usage": null on every chunk when include_usage is requested.
        self.tail = ',"usage":null}\n\n' if (c.include_usage and not c.groq) else "}\n\n"

    def role(self) -> str:
        delta = (
            '{"role":"assistant","content":""}'
            if self.c.groq
            else ('{"role":"assistant","content":"","refusal":null}')
        )
        extra = f',"x_groq":{{"id":"{self.c.req_id}"}}' if self.c.groq else ""
        return (
            f'{self.head}"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":null}}]'
            f"{extra}{self.tail}"
        )

    def token(self, text: str) -> str:
        return (
            f'{self.head}"choices":[{{"index":0,"delta":{{"content":{json.dumps(text)}}},'
            f'"logprobs":null,"finish_reason":null}}]{self.tail}'
        )

    def finish(self, elapsed: float) -> str:
        c = self.c
        out = (
            f'{self.head}"choices":[{{"index":0,"delta":{{}},"logprobs":null,'
            f'"finish_reason":"{c.finish_reason}"}}]'
        )
        if c.groq:
            x_groq = json.dumps({"id": c.req_id, "usage": c.usage(elapsed)}, separators=(",", ":"))
            out += f',"x_groq":{x_groq}'
        out += self.tail
        if c.include_usage:
            usage = json.dumps(c.usage(elapsed), separators=(",", ":"))
            out += f'{self.head}"choices":[],"usage":{usage}}}\n\n'
        return out + _DONE


class FakeLLMServer:
    """ASGI app + runner for a fake Groq/OpenAI chat-completions server.

    Args:
        api_keys: accepted bearer key(s); ``None`` accepts any non-empty key.
        answer: fixed answer text; if ``None`` the answer is ``"Echo: <last user
            message>"`` padded with filler words (or cut) to ``answer_tokens`` tokens.
        answer_tokens: length of the echo answer in tokens (``<= 0``: no padding/cut).
            A request's ``max_tokens``/``max_completion_tokens`` cuts it further
            (``finish_reason: "length"``).
        ttft_ms: time to first token, measured from request arrival.
        tokens_per_second: streaming pace after the first token (0 = no pacing).
            Non-streaming answers are delayed by the same total generation time.
        models: model ids listed by ``/models`` (ids or ``(id, owned_by)`` pairs).
            Any requested model is accepted and echoed back.
        record_limit: how many chat request bodies to keep.
        tick_ms: minimum pacing sleep; tokens due within a tick are written together
            (each still its own SSE event), so 500 tok/s costs ~100 wakeups/s.

    All attributes above can be changed while running with :meth:`configure`.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | str | None = None,
        answer: str | None = None,
        answer_tokens: int = 150,
        ttft_ms: float = 0.0,
        tokens_per_second: float = 0.0,
        models: Iterable[str | tuple[str, str]] = DEFAULT_MODELS,
        record_limit: int = 100,
        tick_ms: float = 10.0,
    ) -> None:
        self.api_keys: frozenset[str] | None = (
            None if api_keys is None else frozenset([api_keys] if isinstance(api_keys, str) else api_keys)
        )
        self.answer = answer
        self.answer_tokens = answer_tokens
        self.ttft_ms = ttft_ms
        self.tokens_per_second = tokens_per_second
        self.tick_ms = tick_ms
        self.models: list[tuple[str, str]] = [
            (m, "Meta") if isinstance(m, str) else (m[0], m[1]) for m in models
        ]
        self.base_url: str | None = None
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._sticky: Fault | None = None
        self._records: deque[dict[str, Any]] = deque(maxlen=record_limit)
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self._created = int(time.time())
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ Python API

    def configure(self, **settings: Any) -> None:
        """Change ``answer``, ``answer_tokens``, ``ttft_ms``, ``tokens_per_second``, ``tick_ms``."""
        allowed = {"answer", "answer_tokens", "ttft_ms", "tokens_per_second", "tick_ms"}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        for name, value in settings.items():
            setattr(self, name, value)

    def push_fault(self, fault: Fault | str | dict[str, Any], **params: Any) -> None:
        """Queue a fault for the next chat request (FIFO, one consumed per request)."""
        parsed = Fault.parse(fault, **params)
        with self._lock:
            self._queue.append(parsed)

    def set_sticky_fault(self, fault: Fault | str | dict[str, Any] | None, **params: Any) -> None:
        """Apply a fault to every chat request (after the queue is empty); ``None`` clears it."""
        parsed = None if fault is None else Fault.parse(fault, **params)
        with self._lock:
            self._sticky = parsed

    def clear_faults(self) -> None:
        """Drop queued faults and the sticky fault."""
        with self._lock:
            self._queue.clear()
            self._sticky = None

    @property
    def queued_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._queue)

    @property
    def sticky_fault(self) -> Fault | None:
        return self._sticky

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Recorded chat requests, oldest first. Each: path, api ("groq"/"openai"),
        model, messages, temperature, max_tokens, stream, stream_options, fault, body."""
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> dict[str, Any] | None:
        with self._lock:
            return self._records[-1] if self._records else None

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def reset(self) -> None:
        """Clear faults and recorded requests (settings are kept)."""
        with self._lock:
            self._queue.clear()
            self._sticky = None
            self._records.clear()

    def state(self) -> dict[str, Any]:
        """JSON-able snapshot: faults, settings and number of recorded requests."""
        with self._lock:
            return {
                "queued": [f.to_json() for f in self._queue],
                "sticky": self._sticky.to_json() if self._sticky else None,
                "config": {
                    "answer": self.answer,
                    "answer_tokens": self.answer_tokens,
                    "ttft_ms": self.ttft_ms,
                    "tokens_per_second": self.tokens_per_second,
                    "tick_ms": self.tick_ms,
                },
                "recorded": len(self._records),
            }

    def apply_control(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a ``POST /_control`` document; returns :meth:`state`.

        Keys (all optional, applied in this order): ``"reset": true``,
        ``"clear_faults": true``, ``"config": {...}`` (see :meth:`configure`),
        ``"faults": [spec, ...]`` (queued), ``"sticky": spec | null``. A *spec* is a
        kind name or ``{"kind": ..., "retry_after"/"seconds"/"after_tokens"/"message"/"style": ...}``.
        """
        if not isinstance(body, dict):
            raise ValueError("control body must be a JSON object")
        unknown = set(body) - {"reset", "clear_faults", "config", "faults", "sticky"}
        if unknown:
            raise ValueError(f"unknown control key(s) {sorted(unknown)}")
        faults = [Fault.parse(spec) for spec in body.get("faults", [])]
        sticky = Fault.parse(body["sticky"]) if body.get("sticky") is not None else None
        if body.get("reset"):
            self.reset()
        if body.get("clear_faults"):
            self.clear_faults()
        if "config" in body:
            self.configure(**body["config"])
        for fault in faults:
            self.push_fault(fault)
        if "sticky" in body:
            self.set_sticky_fault(sticky)
        return self.state()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self._sticky

    # ------------------------------------------------------------------ running

    @contextlib.contextmanager
    def run_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeLLMServer]:
        """Serve with uvicorn in a daemon thread for the ``with`` block; yields ``self``
        with :attr:`base_url` (``http://127.0.0.1:PORT``) set."""
        self.start_in_thread(host, port)
        try:
            yield self
        finally:
            self.stop()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a background thread (port 0 = a free port); returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("already running")
        sock = _bind(host, port)
        config = uvicorn.Config(
            self,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.002)
        self._server, self._thread = server, thread
        bound_host, bound_port = sock.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    def stop(self) -> None:
        """Stop the background server started by :meth:`start_in_thread`."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.base_url = None

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = asyncio.get_running_loop().time()
        method: str = scope["method"]
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]

        if path.startswith(GROQ_PREFIX + "/"):
            prefix, rest = GROQ_PREFIX, path[len(GROQ_PREFIX) :]
        elif path.startswith(OPENAI_PREFIX + "/"):
            prefix, rest = OPENAI_PREFIX, path[len(OPENAI_PREFIX) :]
        elif path.startswith("/_"):
            await self._control(method, path, receive, send)
            return
        else:
            prefix, rest = "", path

        if prefix and (rest == "/chat/completions" or rest == "/models" or rest.startswith("/models/")):
            if not self._authorized(scope):
                await _respond(
                    send, 401, _error_body("Invalid API Key", "invalid_request_error", "invalid_api_key")
                )
                return
            if rest == "/chat/completions" and method == "POST":
                await self._chat(prefix == GROQ_PREFIX, path, t0, receive, send)
                return
            if method == "GET":
                await self._models(rest, send)
                return
        message = (
            f"Unknown request URL: {method} {path}. Please check the URL for typos, "
            "or see the docs at https://console.groq.com/docs/"
        )
        await _respond(send, 404, _error_body(message, "invalid_request_error", "unknown_url"))

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, key = value.decode("latin-1").partition(" ")
                key = key.strip()
                if scheme.lower() != "bearer" or not key:
                    return False
                return self.api_keys is None or key in self.api_keys
        return False

    async def _models(self, rest: str, send: Send) -> None:
        def model_obj(model_id: str, owner: str) -> dict[str, Any]:
            return {
                "id": model_id,
                "object": "model",
                "created": self._created,
                "owned_by": owner,
                "active": True,
                "context_window": 131072,
                "public_apps": None,
            }

        if rest == "/models":
            data = [model_obj(m, owner) for m, owner in self.models]
            await _respond(send, 200, json.dumps({"object": "list", "data": data}).encode())
            return
        wanted = rest[len("/models/") :]
        for m, owner in self.models:
            if m == wanted:
                await _respond(send, 200, json.dumps(model_obj(m, owner)).encode())
                return
        message = f"The model `{wanted}` does not exist or you do not have access to it."
        await _respond(send, 404, _error_body(message, "invalid_request_error", "model_not_found"))

    async def _control(self, method: str, path: str, receive: Receive, send: Send) -> None:
        try:
            if path == "/_requests" and method == "GET":
                await _respond(send, 200, json.dumps({"requests": self.requests}).encode())
            elif path == "/_reset" and method == "POST":
                self.reset()
                await _respond(send, 200, json.dumps(self.state()).encode())
            elif path == "/_control" and method == "GET":
                await _respond(send, 200, json.dumps(self.state()).encode())
            elif path == "/_control" and method == "POST":
                body = json.loads(await _read_body(receive) or b"{}")
                await _respond(send, 200, json.dumps(self.apply_control(body)).encode())
            else:
                await _respond(send, 404, _error_body(f"no control route {method} {path}", "not_found"))
        except (ValueError, TypeError) as exc:
            await _respond(send, 400, _error_body(str(exc), "invalid_request_error"))

    # ------------------------------------------------------------------ chat

    def _answer_tokens(self, messages: list[Any], max_tokens: int | None) -> tuple[list[str], str]:
        if self.answer is not None:
            text = self.answer
            tokens = _TOKEN_RE.findall(text)
            lead = text[: len(text) - len(text.lstrip())]
            if tokens and lead:
                tokens[0] = lead + tokens[0]
        else:
            last_user = next(
                (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
            )
            words = ["Echo:", *last_user.split()]
            n = self.answer_tokens
            if n > 0:
                if len(words) < n:
                    words.extend(itertools.islice(itertools.cycle(_FILLER), n - len(words)))
                del words[n:]
            tokens = [w + " " for w in words]
            tokens[-1] = words[-1]
        if max_tokens is not None and 0 < max_tokens < len(tokens):
            return tokens[:max_tokens], "length"
        return tokens, "stop"

    async def _chat(self, groq: bool, path: str, t0: float, receive: Receive, send: Send) -> None:
        try:
            body = json.loads(await _read_body(receive))
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
            model = body.get("model")
            messages = body.get("messages")
            if not isinstance(model, str) or not model:
                raise ValueError("property 'model' is missing")
            if not (isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages)):
                raise ValueError("property 'messages' must be a non-empty array of objects")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            await _respond(send, 400, _error_body(str(exc), "invalid_request_error"))
            return

        fault = self._next_fault()
        stream = bool(body.get("stream"))
        stream_options = body.get("stream_options")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        record = {
            "path": path,
            "api": "groq" if groq else "openai",
            "model": model,
            "messages": messages,
            "temperature": body.get("temperature"),
            "max_tokens": max_tokens,
            "stream": stream,
            "stream_options": stream_options,
            "fault": fault.kind if fault else None,
            "body": body,
        }
        with self._lock:
            self._records.append(record)

        if fault is not None and await self._early_fault(fault, model, stream, receive, send):
            return

        tokens, finish_reason = self._answer_tokens(
            messages, max_tokens if isinstance(max_tokens, int) else None
        )
        n = next(self._ids)
        completion = _Completion(
            groq=groq,
            cid=f"chatcmpl-{self._id_prefix}{n:08x}",
            req_id=f"req_{self._id_prefix}{n:08x}",
            created=int(time.time()),
            model=model,
            tokens=tokens,
            finish_reason=finish_reason,
            prompt_tokens=sum(len(_text_of(m.get("content")).split()) for m in messages),
            include_usage=isinstance(stream_options, dict) and bool(stream_options.get("include_usage")),
            t0=t0,
        )
        if stream:
            await self._stream(completion, fault, receive, send)
        else:
            await self._complete(completion, fault, send)

    async def _early_fault(
        self, fault: Fault, model: str, stream: bool, receive: Receive, send: Send
    ) -> bool:
        """Handle faults that act before any token; True if the request is finished."""
        kind = fault.kind
        if kind == "rate_limit":
            wait = f"{fault.retry_after:g}"
            message = fault.message or (
                f"Rate limit reached for model `{model}` in organization `org_fake` service tier "
                f"`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
                f"Please try again in {wait}s."
            )
            headers = [(b"retry-after", wait.encode())]
            await _respond(send, 429, _error_body(message, "requests", "rate_limit_exceeded"), headers)
            return True
        if kind == "unavailable":
            message = fault.message or (
                f"{model} is currently over capacity. Please try again and back off exponentially."
            )
            await _respond(send, 503, _error_body(message, "internal_server_error", "service_unavailable"))
            return True
        if kind == "server_error" or (kind == "midstream_error" and not stream):
            message = fault.message or "Internal Server Error"
            await _respond(send, 500, _error_body(message, "internal_server_error"))
            return True
        if kind == "malformed" and not stream:
            await _respond(send, 200, b'{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"ind')
            return True
        if kind == "stall" and not stream:
            return not await _stall(receive, fault.seconds)
        return False

    async def _complete(self, c: _Completion, fault: Fault | None, send: Send) -> None:
        elapsed = self._generation_time(len(c.tokens))
        delay = c.t0 + elapsed - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(c.tokens)}
        if not c.groq:
            message.update(refusal=None, annotations=[])
        response: dict[str, Any] = {
            "id": c.cid,
            "object": "chat.completion",
            "created": c.created,
            "model": c.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": c.finish_reason}],
            "usage": c.usage(elapsed),
            "system_fingerprint": "fp_fake",
        }
        if c.groq:
            response["x_groq"] = {"id": c.req_id}
            response["service_tier"] = "on_demand"
        else:
            response["service_tier"] = "default"
        body = json.dumps(response).encode()
        if fault is not None and fault.kind == "disconnect":
            headers = _headers(_JSON_HEADERS, body)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            _dropping_connection.set(True)  # returning now makes uvicorn close the socket
            return
        await _respond(send, 200, body)

    def _generation_time(self, n_tokens: int) -> float:
        tps = self.tokens_per_second
        return self.ttft_ms / 1000 + ((n_tokens - 1) / tps if tps > 0 and n_tokens > 1 else 0.0)

    async def _stream(self, c: _Completion, fault: Fault | None, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        loop = asyncio.get_running_loop()
        t0 = c.t0
        if fault is not None and fault.kind == "stall":
            if not await _stall(receive, fault.seconds):
                return
            t0 = loop.time()
        sse = _SSE(c)
        tokens = c.tokens
        end = len(tokens)
        if fault is not None and fault.kind in ("midstream_error", "malformed", "disconnect"):
            end = max(0, min(end, fault.after_tokens))

        delay = t0 + self.ttft_ms / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        first = sse.role() + (sse.token(tokens[0]) if end else "")
        tps, tick = self.tokens_per_second, self.tick_ms / 1000
        if tps <= 0 or end <= 1:
            # No pacing: everything in one write.
            out = first + "".join(sse.token(t) for t in tokens[1:end])
            start = loop.time()
        else:
            await send({"type": "http.response.body", "body": first.encode(), "more_body": True})
            start = loop.time()
            interval = 1.0 / tps
            last_due = start + (end - 1) * interval
            i = 1
            while i < end:
                now = loop.time()
                due = start + i * interval
                if due > now:
                    await asyncio.sleep(min(max(due, now + tick), last_due) - now)
                    now = loop.time()
                j = min(end, max(i + 1, int((now - start) / interval) + 1))
                chunk = "".join(sse.token(t) for t in tokens[i:j])
                i = j
                if i < end:
                    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            out = chunk

        if fault is None or fault.kind == "stall":
            out += sse.finish(loop.time() - start + self.ttft_ms / 1000)
        elif fault.kind == "midstream_error":
            if fault.style == "x_groq":
                x_groq = json.dumps({"id": c.req_id, "error": fault.message or "over capacity"})
                out += f'{sse.head}"choices":[],"x_groq":{x_groq}}}\n\n{_DONE}'
            else:
                message = fault.message or f"{c.model} is currently over capacity. Please try again later."
                error = _error_body(message, "internal_server_error", "service_unavailable").decode()
                out += f"data: {error}\n\n"
        elif fault.kind == "malformed":
            out += f'{sse.head}"choices":[{{"index":0,"delta":{{"content":"brok\n\n'
        elif fault.kind == "disconnect":
            await send({"type": "http.response.body", "body": out.encode(), "more_body": True})
            _dropping_connection.set(True)  # returning now makes uvicorn close the socket
            return
        await send({"type": "http.response.body", "body": out.encode(), "more_body": False})


# ---------------------------------------------------------------------- helpers


def _headers(base: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    return [*base, (b"content-length", str(len(body)).encode())]


async def _respond(
    send: Send, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = _headers(_JSON_HEADERS, body)
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def _stall(receive: Receive, seconds: float) -> bool:
    """Wait ``seconds``; False if the client disconnected first."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return True
    return False


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections made before uvicorn is up wait in the backlog
    return sock


class FakeLLMClient:
    """Drive a fake LLM server running in another process through its control endpoints."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def control(self, **body: Any) -> dict[str, Any]:
        """POST /_control with the given keys; returns the server state."""
        result: dict[str, Any] = self._call("POST", "/_control", body)
        return result

    def push_fault(self, fault: Fault | str | dict[str, Any], **params: Any) -> None:
        self.control(faults=[Fault.parse(fault, **params).to_json()])

    def set_sticky_fault(self, fault: Fault | str | dict[str, Any] | None, **params: Any) -> None:
        self.control(sticky=None if fault is None else Fault.parse(fault, **params).to_json())

    def configure(self, **settings: Any) -> None:
        self.control(config=settings)

    def reset(self) -> None:
        self._call("POST", "/_reset", {})

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_control")
        return result

    @property
    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_requests")["requests"]
        return result


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m tests.fakes.fake_llm --port 8765 --ttft-ms 50 ...``."""
    parser = argparse.ArgumentParser(description="Fake Groq/OpenAI chat-completions server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = pick a free port")
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-second", type=float, default=0.0)
    parser.add_argument("--answer-tokens", type=int, default=150)
    parser.add_argument("--answer", default=None, help="fixed answer text instead of the echo")
    parser.add_argument("--api-key", action="append", dest="api_keys", help="accepted key (repeatable)")
    parser.add_argument("--tick-ms", type=float, default=10.0)
    parser.add_argument("--record-limit", type=int, default=100)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    app = FakeLLMServer(
        api_keys=args.api_keys,
        answer=args.answer,
        answer_tokens=args.answer_tokens,
        ttft_ms=args.ttft_ms,
        tokens_per_second=args.tokens_per_second,
        tick_ms=args.tick_ms,
        record_limit=args.record_limit,
    )
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"fake LLM listening on http://{host}:{port}", flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
