"""The outermost ASGI layer: request id, security headers, the access log, the Host and WebSocket origin checks.

It wraps Litestar's whole handler (`install`), so it sees every response — routed, 404, 413, 500 — and every
WebSocket handshake before any route does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from litestar import Litestar
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from entrypoints.http.body_timeout import with_body_timeout
from entrypoints.http.client_closed import ClientWatch
from entrypoints.http.cors import with_cors
from entrypoints.http.error_body import encode_error_body
from entrypoints.http.headers import security_headers
from entrypoints.http.request_id import REQUEST_ID_HEADER, accept_or_make, request_id
from entrypoints.settings import Settings

access_log = logging.getLogger("centralita.access")
log = logging.getLogger("centralita.http")
_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})  # probes: logged at DEBUG


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """CORS_ORIGINS for WebSocket handshakes: unset allows all; a non-browser client sends no Origin."""
    if not allowed or "*" in allowed or origin is None:
        return True
    if origin.rstrip("/") in {entry.rstrip("/") for entry in allowed}:
        return True
    return host is not None and urlsplit(origin).netloc == host  # the server's own pages (/widget/)


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def host_name(host: str) -> str:
    """`Host` without its port, lower-case, without a trailing dot: `[::1]:8000` → `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def host_allowed(host: str | None, scope: Scope, settings: Settings) -> bool:
    """ALLOWED_HOSTS (`*.x` covers subdomains, `*` any); unset: loopback names while loopback is trusted."""
    if host is None:  # no name to rebind; browsers always send one
        return True
    allowed = [entry.lower().rstrip(".") for entry in settings.allowed_hosts]
    if not allowed:
        if settings.admin_api_key is not None:
            return True
        server = scope.get("server")
        allowed = [*_LOOPBACK_NAMES, *([str(server[0]).lower()] if server else [])]
    name = host_name(host)
    return any(
        entry == "*" or name == entry or (entry.startswith("*.") and name.endswith(entry[1:]))
        for entry in allowed
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        rid = accept_or_make(headers.get(REQUEST_ID_HEADER))
        token = request_id.set(rid)
        started = time.perf_counter()
        watch = ClientWatch(receive)  # an upload abandoned mid-body is logged 499, not 500
        outcome: dict[str, Any] = {"status": None, "watch": watch}
        try:
            if not host_allowed(headers.get("host"), scope, self._settings):
                log.warning("request refused: Host %r is not in ALLOWED_HOSTS", headers.get("host"))
                if scope["type"] == ScopeType.WEBSOCKET:
                    await self._close_handshake("host not allowed", receive, send)
                    outcome["status"] = 403
                else:
                    await self._refuse_host(self._wrap(scope, send, rid, outcome))
                return
            if scope["type"] == ScopeType.WEBSOCKET and not origin_allowed(
                headers.get("origin"), headers.get("host"), self._settings.cors_origins
            ):
                await self._refuse_handshake(headers.get("origin"), receive, send)
                outcome["status"] = 403
                return
            await self._app(scope, watch.receive, self._wrap(scope, send, rid, outcome))
        finally:
            self._log_access(scope, watch.status(outcome["status"]), started)
            request_id.reset(token)

    def _wrap(self, scope: Scope, send: Send, rid: str, outcome: dict[str, Any]) -> Send:
        path = scope["path"]

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                outcome["watch"].answered = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(REQUEST_ID_HEADER.encode(), rid.encode())]
                extra += security_headers(path, self._settings.hsts_max_age)
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in extra if name not in present),
                ]
            elif message["type"] == "websocket.accept":
                outcome["status"] = 101
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), rid.encode())]
            elif message["type"] == "websocket.close" and outcome["status"] is None:
                outcome["status"] = 403  # closed before accept: the server answers 403
            await send(message)

        return wrapped

    async def _refuse_handshake(self, origin: str | None, receive: Receive, send: Send) -> None:
        log.warning("WebSocket handshake refused: origin %r is not in CORS_ORIGINS", origin)
        await self._close_handshake("origin not allowed", receive, send)

    @staticmethod
    async def _close_handshake(reason: str, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": reason})

    @staticmethod
    async def _refuse_host(send: Send) -> None:
        """400 `invalid_host`: a name this server does not serve (DNS rebinding), never routed."""
        body = encode_error_body("invalid_host", "This server does not serve that Host (ALLOWED_HOSTS).")
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)

    def _log_access(self, scope: Scope, status: int | None, started: float) -> None:
        route = scope.get("path_template") or scope["path"]
        method = scope.get("method", "WS") if scope["type"] == ScopeType.HTTP else "WS"
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        level = logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO
        access_log.log(
            level,
            "%s %s %s %.1fms",
            method,
            route,
            status if status is not None else "-",
            duration_ms,
            extra={
                "access": {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
            },
        )


def install(app: Litestar, settings: Settings) -> None:
    """Put the middleware around everything the app serves (after the app was built)."""
    # CORS sits where Litestar would put it (around the router), refusing preflights in JSON (cors.py).
    cors = with_cors(app.asgi_handler, settings.cors_origins)
    bounded = with_body_timeout(cors, settings.request_body_timeout_seconds)  # 408 for slow bodies
    app.asgi_handler = RequestContextMiddleware(bounded, settings)
