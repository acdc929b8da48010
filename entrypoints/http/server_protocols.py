"""uvicorn's WebSocket protocol, able to drop a client that stopped reading (used by `centralita serve`).

A close frame waits, like any frame, for room in the write buffer; for a client that reads nothing there is
never room, so the close (and uvicorn's own keepalive close) would wait forever with the connection open.
Here a close that cannot be written aborts the connection instead.
"""

from __future__ import annotations

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


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
