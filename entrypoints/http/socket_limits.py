"""Limits of one WebSocket connection: frame size, idle time, and open connections per session and address.

uvicorn enforces the frame size itself (`ws_max_size`, closing with 1009 before reading a huge frame); the
check here covers servers and test clients that do not.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any, Self

from litestar import WebSocket
from litestar.datastructures import State

from entrypoints.settings import Settings


class FrameTooLarge(Exception):
    """A frame above WS_MAX_FRAME_BYTES: the connection is closed with 1009."""


class IdleTimeout(Exception):
    """Nothing from the client and no turn running for WS_IDLE_TIMEOUT_SECONDS."""


async def read_frame(
    socket: WebSocket[Any, Any, Any], settings: Settings, busy: Callable[[], bool]
) -> str | bytes | None:
    """The next frame's text (bytes when a binary frame is not UTF-8), None when the client left."""
    while True:
        try:
            event = await asyncio.wait_for(socket.receive(), settings.ws_idle_timeout_seconds)
        except TimeoutError:
            if busy():  # a long answer is not idleness
                continue
            raise IdleTimeout from None
        if event["type"] == "websocket.disconnect":
            return None
        text: str | None = None
        data: bytes | None = None
        if event["type"] == "websocket.receive":  # any other event (websocket.connect) carries no frame
            text, data = event.get("text"), event.get("bytes")
        size = len(text.encode("utf-8", "surrogatepass")) if text is not None else len(data or b"")
        if size > settings.ws_max_frame_bytes:
            raise FrameTooLarge
        if text is not None:
            return text
        try:
            return (data or b"").decode("utf-8")
        except UnicodeDecodeError:
            return data or b""


class SessionConnections:
    """Open WebSockets per session_id in this process (WS_MAX_CONNECTIONS_PER_SESSION)."""

    _state_key = "ws_sessions"

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    @classmethod
    def of(cls, state: State) -> Self:
        registry: Self | None = state.get(cls._state_key)
        if registry is None:
            registry = state[cls._state_key] = cls()
        return registry

    def limit(self, settings: Settings) -> int:
        return settings.ws_max_connections_per_session

    def enter(self, session_id: str, settings: Settings) -> bool:
        if self._open[session_id] >= self.limit(settings):
            return False
        self._open[session_id] += 1
        return True

    def leave(self, session_id: str) -> None:
        self._open[session_id] -= 1
        if self._open[session_id] <= 0:
            del self._open[session_id]


class AddressConnections(SessionConnections):
    """Open WebSockets per client address in this process (WS_MAX_CONNECTIONS_PER_IP)."""

    _state_key = "ws_addresses"

    def limit(self, settings: Settings) -> int:
        return settings.ws_max_connections_per_ip
