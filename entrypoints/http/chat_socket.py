"""The WebSocket chat stream (PRODUCT.md, "WebSocket stream"), current and legacy paths.

One reader loop per connection receives frames; each turn runs as a task so that a message sent during a
turn is answered with `turn_in_progress` and a client that leaves cancels its turn at once (the reply is
then stored `interrupted`). Every frame goes out through `_send`, which numbers it with `seq`.

Refusals of frames that arrive while a turn is still being set up wait for that turn's first frame, so the
accepted turn's `start` always comes first. A client that takes no frame for WS_SEND_TIMEOUT_SECONDS (it
stopped reading) is closed with 1008 `send timeout`; its turn ends as when it leaves (stored `interrupted`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import aclosing
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.status_codes import WS_1000_NORMAL_CLOSURE, WS_1008_POLICY_VIOLATION, WS_1009_MESSAGE_TOO_BIG

from application.agents import AgentService
from application.chat import ChatRequest, ChatService
from application.events import StreamEvent
from domain.errors import CentralitaError, TooManyRequests
from domain.visitors import validate_session_id
from entrypoints.http.client_address import client_address
from entrypoints.http.coalesce import coalesced
from entrypoints.http.events import encode_event, encode_payload, error_payload
from entrypoints.http.rate_limits import admission_of
from entrypoints.http.socket_limits import (
    AddressConnections,
    FrameTooLarge,
    IdleTimeout,
    SessionConnections,
    read_frame,
)
from entrypoints.metrics import OpenWebSocket, TurnMeter, count_rate_limited

log = logging.getLogger("centralita.ws")
_decoder = msgspec.json.Decoder()


class ChatSocket:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        chat: ChatService,
        session_id: str,
        agent_id: int,
    ) -> None:
        self._socket = socket
        self._chat = chat
        self._session_id = session_id
        self._agent_id = agent_id
        self._seq = 0
        self._send_lock = asyncio.Lock()  # frames leave in `seq` order even when two tasks send
        self._turn: asyncio.Task[None] | None = None
        self._held: list[dict[str, Any]] | None = None  # refusals waiting for the new turn's first frame

    async def serve(self, agents: AgentService) -> None:
        await self._socket.accept()
        with OpenWebSocket():
            addresses = AddressConnections.of(self._socket.app.state)
            address = client_address(self._socket) or ""  # unknown (a Unix socket): one shared count
            if not addresses.enter(address, self._socket.app.state.settings):
                await self._send_error(
                    "too_many_connections", "This address has too many open connections; close one first."
                )
                await self._close(WS_1008_POLICY_VIOLATION, "too_many_connections")
                return
            try:
                await self._serve(agents)
            finally:
                addresses.leave(address)

    async def _serve(self, agents: AgentService) -> None:
        try:
            validate_session_id(self._session_id)
            await agents.get(self._agent_id)
        except CentralitaError as error:
            await self._send_error(error.code, error.detail)
            await self._socket.close(code=WS_1008_POLICY_VIOLATION, reason=error.code)
            return
        connections = SessionConnections.of(self._socket.app.state)
        if not connections.enter(self._session_id, self._socket.app.state.settings):
            await self._send_error(
                "too_many_connections", "This session has too many open connections; close one first."
            )
            await self._socket.close(code=WS_1008_POLICY_VIOLATION, reason="too_many_connections")
            return
        try:
            await self._read_frames()
        except FrameTooLarge:
            await self._close(WS_1009_MESSAGE_TOO_BIG, "frame too large")
        except IdleTimeout:
            await self._close(WS_1000_NORMAL_CLOSURE, "idle timeout")
        finally:
            connections.leave(self._session_id)
            if self._turn is not None and not self._turn.done():
                self._turn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._turn

    async def _read_frames(self) -> None:
        settings = self._socket.app.state.settings
        admission = admission_of(self._socket)
        address = client_address(self._socket)
        while True:
            raw = await read_frame(self._socket, settings, busy=self._turn_running)
            if raw is None:
                return
            try:  # every frame counts against the rate limits, refused ones too
                await admission.admit(self._session_id, address)
            except TooManyRequests as error:
                count_rate_limited("ws", error.code)
                await self._refuse(error.code, error.detail, error.retry_after)
                continue
            except CentralitaError as error:
                await self._refuse(error.code, error.detail)
                continue
            if isinstance(raw, bytes):
                await self._refuse("invalid_encoding", "Frames must hold UTF-8 JSON text.")
                continue
            request = await self._parse(raw)
            if request is None:
                continue
            if self._turn_running():
                await self._refuse("turn_in_progress", "Wait for the current answer to end before sending.")
                continue
            self._held = []
            self._turn = asyncio.create_task(self._run_turn(request))

    async def _parse(self, raw: str) -> ChatRequest | None:
        try:
            frame = _decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested deeper than msgspec decodes
            await self._refuse("malformed_json", "The frame is not valid JSON.")
            return None
        if not isinstance(frame, dict):
            await self._refuse("invalid_frame", 'Send a JSON object such as {"message": "Hola"}.')
            return None
        message = frame.get("message", frame.get("mensaje"))
        if not isinstance(message, str):
            await self._refuse("missing_message", 'The frame needs a "message" text.')
            return None
        origin = frame.get("origin")
        if origin is not None and not isinstance(origin, str):
            await self._refuse("invalid_origin", "origin must be a text such as 'web'.")
            return None
        return ChatRequest(self._agent_id, self._session_id, message, origin)

    async def _run_turn(self, request: ChatRequest) -> None:
        meter = TurnMeter(request.agent_id, "ws")
        try:
            await self._stream_turn(request, meter)
        except Exception as error:
            meter.fail(error)
            raise
        finally:
            meter.close()  # not ended nor failed: the client left or the turn was cancelled
            with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
                await self._send(None)  # refusals still held (the turn ended before its first frame)

    async def _stream_turn(self, request: ChatRequest, meter: TurnMeter) -> None:
        try:
            stream = await self._chat.open_stream(request)
        except CentralitaError as error:
            meter.fail(error)
            await self._send_error(error.code, error.detail)
            return
        except WebSocketDisconnect:
            return
        try:  # token pieces that pile up while a frame is being sent leave together (coalesce.py)
            async with aclosing(coalesced(stream.events())) as events:
                async for event in events:
                    meter.observe(event)
                    await self._send(event)
        except SendTimeout:
            # The client stopped reading; closing the events stored the reply as interrupted.
            log.info(
                "client took no frame for %ss during turn %s: closed", self._send_timeout, stream.message_id
            )
            await self._close(WS_1008_POLICY_VIOLATION, "send timeout")
        except (WebSocketDisconnect, OSError, RuntimeError) as error:
            # The client went away mid-answer; closing the events stored the reply as interrupted.
            log.info("client left during turn %s (%s)", stream.message_id, type(error).__name__)

    def _turn_running(self) -> bool:
        return self._turn is not None and not self._turn.done()

    @property
    def _send_timeout(self) -> float:
        return float(self._socket.app.state.settings.ws_send_timeout_seconds)

    async def _close(self, code: int, reason: str) -> None:
        # Bounded: a client that reads nothing cannot take a close frame either (uvicorn's protocol in
        # entrypoints/http/server_protocols.py then drops the connection at once).
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
            await asyncio.wait_for(self._socket.close(code=code, reason=reason), self._send_timeout)

    async def _refuse(self, code: str, detail: str, retry_after: float | None = None) -> None:
        """An error frame from the reader: held back while a new turn has sent nothing yet."""
        payload = error_payload(code, detail, retry_after)
        if self._held is not None:
            self._held.append(payload)
            return
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
            await self._send(payload)

    async def _send_error(self, code: str, detail: str, retry_after: float | None = None) -> None:
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
            await self._send(error_payload(code, detail, retry_after))

    async def _send(self, frame: StreamEvent | dict[str, Any] | None) -> None:
        """Send `frame` (None: nothing), then the refusals held for this turn, each numbered in order."""
        async with self._send_lock:
            frames: list[StreamEvent | dict[str, Any]] = [] if frame is None else [frame]
            if self._turn is not None and asyncio.current_task() is self._turn:
                frames += self._held or []
                self._held = None
            for item in frames:
                self._seq += 1
                data = (
                    encode_payload(item, self._seq)
                    if isinstance(item, dict)
                    else encode_event(item, self._seq)
                )
                try:
                    async with asyncio.timeout(self._send_timeout):  # no extra task, unlike wait_for
                        await self._socket.send_data(data)
                except TimeoutError:
                    raise SendTimeout from None


class SendTimeout(Exception):
    """The client took no frame for WS_SEND_TIMEOUT_SECONDS."""


@websocket("/api/v1/chat/stream/{session_id:str}/{agent_id:int}")
async def chat_stream_socket(
    socket: WebSocket[Any, Any, Any],
    session_id: FromPath[str],
    agent_id: FromPath[int],
    chat: NamedDependency[ChatService],
    agents: NamedDependency[AgentService],
) -> None:
    """Stream answers over a WebSocket: send `{"message": "…"}`, receive start, sources, token…, end."""
    await ChatSocket(socket, chat, session_id, agent_id).serve(agents)


@websocket("/api/v1/groq/chat/stream/{session_id:str}/{id_agente:int}")
async def legacy_chat_stream_socket(
    socket: WebSocket[Any, Any, Any],
    session_id: FromPath[str],
    id_agente: FromPath[int],
    chat: NamedDependency[ChatService],
    agents: NamedDependency[AgentService],
) -> None:
    """Legacy path of the WebSocket stream (frames may say `mensaje`)."""
    await ChatSocket(socket, chat, session_id, id_agente).serve(agents)
