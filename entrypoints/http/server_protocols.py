"""uvicorn's protocols, hardened (used by `centralita serve`): a WebSocket protocol able to drop a client that
stopped reading, and an HTTP protocol with a header read timeout.

A close frame waits, like any frame, for room in the write buffer; for a client that reads nothing there is
never room, so the close (and uvicorn's own keepalive close) would wait forever with the connection open.
Here a close that cannot be written aborts the connection instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("centralita.http")


class WebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "websocket.close" and self._stuck():
            self._abort(message.get("code", 1000), message.get("reason") or "")
            return
        await super().send(message)

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        if self._stuck():
            self._abort(1011, "keepalive ping timeout")

    def _stuck(self) -> bool:
        return self.handshake_complete and not self.disconnected and not self.writable.is_set()

    def _abort(self, code: int, reason: str) -> None:
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.close_sent = True
        self.transport.abort()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers take longer than `header_timeout`.

    uvicorn bounds only the idle time between keep-alive requests; a client sending a header line every few
    seconds (slowloris) would hold the connection forever. The clock starts when the connection opens and at
    each new request, and stops when the headers are complete (the body has its own bound, in the app).
    """

    header_timeout: float  # REQUEST_HEADER_TIMEOUT_SECONDS, set as each connection opens
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = configured_header_timeout()
        super().connection_made(transport)
        self._start_header_clock()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request headers took over %ss", self.header_timeout)
            self.transport.close()


@functools.cache
def configured_header_timeout() -> float:
    """REQUEST_HEADER_TIMEOUT_SECONDS, read once per process from the environment and `.env` (the protocol class
    travels to `serve --workers` processes by name, so it cannot carry the value itself)."""
    from entrypoints.settings import Settings

    return float(Settings().request_header_timeout_seconds)
