"""Metrics at the edge: HTTP requests, chat turn outcomes, WebSocket connections, rate-limited requests, and
the `GET /metrics` route (Prometheus text format).

The model, the retriever and the chat turns are measured by decorators of their ports (adapters/metrics,
wired in the container), so the use cases stay free of metrics.

Refusals by the rate limits and quotas are counted here too: the HTTP ones from their 429 answer (in the
middleware), the WebSocket ones by the socket handler calling `count_rate_limited`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from litestar import Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from adapters.metrics.prometheus import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    RATE_LIMITED,
    WEBSOCKETS_OPEN,
)
from entrypoints.http.client_closed import ClientWatch

_CHANNELS = {"/api/v1/chat": "rest", "/api/v1/groq/chat": "rest", "/api/v1/chat/stream": "sse"}
_REFUSALS = frozenset({"rate_limited", "quota_exceeded"})


def count_rate_limited(channel: str, code: str) -> None:
    """One chat request or message refused with 429: `channel` rest, sse or ws; `code` its error code."""
    RATE_LIMITED.labels(channel, code if code in _REFUSALS else "other").inc()


def _refusal_code(body: bytes) -> str:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return "other"
    return code if isinstance(code, str) else "other"


class OpenWebSocket:
    """`with OpenWebSocket():` around a connection's life keeps the open-connections gauge true."""

    def __enter__(self) -> OpenWebSocket:
        WEBSOCKETS_OPEN.inc()
        return self

    def __exit__(self, *_: object) -> None:
        WEBSOCKETS_OPEN.dec()


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Counts and times every HTTP request by method, route template and status (not WebSockets)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        route = scope.get("path_template") or "unmatched"
        refused = b""
        watch = ClientWatch(receive)

        async def send_and_see(message: Message) -> None:
            nonlocal status, refused
            if message["type"] == "http.response.start":
                status = message["status"]
                watch.answered = True
            elif message["type"] == "http.response.body" and status == 429 and route in _CHANNELS:
                refused += message.get("body", b"")[:1024]  # a small JSON error: its `code`
            await send(message)

        try:
            await app(scope, watch.receive, send_and_see)
        finally:
            labels = (scope.get("method", "GET"), route, str(watch.status(status)))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
            if status == 429 and route in _CHANNELS:
                count_rate_limited(_CHANNELS[route], _refusal_code(refused))

    return middleware


def _registry() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


@get(
    "/metrics",
    summary="Prometheus metrics",
    tags=["operations"],
    sync_to_thread=False,
    media_type=CONTENT_TYPE_LATEST,  # documented as what it is, not JSON
)
def metrics() -> Response[bytes]:
    """Requests, chat turns, tokens, LLM latency and errors, retrieval latency (Prometheus text format)."""
    # As a header: Litestar appends a second charset to a text/* media_type that already has one.
    return Response(generate_latest(_registry()), headers={"content-type": CONTENT_TYPE_LATEST})
