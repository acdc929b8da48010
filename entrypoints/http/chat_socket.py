"""The WebSocket chat stream (PRODUCT.md, "WebSocket stream" and "Live conversations"), current and legacy paths.

A connection follows its conversation's feed (`ChatTurns.follow`) from the moment it connects — or, when its
first frame is `{"type": "resume", "after_event_id": N}`, from N — and relays every event, whichever tab or
host caused it, with `event_id` and this connection's `seq`. Its own messages start turns that the service
runs (`ChatTurns.submit`): a connection that leaves no longer stops its answer (unless
STREAM_ON_DISCONNECT=cancel). Refusals of this connection's frames (rate limits, `turn_in_progress`, bad JSON)
go to it alone, without `event_id`; one that arrives while its turn is being set up waits for that turn's
`start`, so the accepted turn's `start` comes first.

The relay starts at the first frame, or after `_LISTEN_GRACE` seconds without one (a tab that only listens),
from the newest event_id read at connect, so a `resume` sent first is served exactly once and in order.
A client that takes no frame for WS_SEND_TIMEOUT_SECONDS (it stopped reading) is closed with 1008
`send timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.status_codes import WS_1000_NORMAL_CLOSURE, WS_1008_POLICY_VIOLATION, WS_1009_MESSAGE_TOO_BIG

from application.agents import AgentService
from application.chat import ChatRequest
from application.conversation_events import START, TURN_ENDINGS
from application.live_chat import ChatTurns, LiveTurn
from application.ports.feed import FeedEvent
from domain.bounds import MAX_OFFSET
from domain.errors import CentralitaError, TooManyRequests
from domain.visitors import validate_session_id
from entrypoints.http.client_address import client_address
from entrypoints.http.coalesce import coalesced
from entrypoints.http.events import encode_payload, error_payload, feed_payload
from entrypoints.http.socket_limits import (
    AddressConnections,
    FrameTooLarge,
    IdleTimeout,
    SessionConnections,
    read_frame,
)
from entrypoints.metrics import OpenWebSocket, count_rate_limited

log = logging.getLogger("centralita.ws")
_decoder = msgspec.json.Decoder()
_LISTEN_GRACE = 2.0  # seconds a new connection waits for a `resume` before relaying from where it connected


class SendTimeout(Exception):
    """The client took no frame for WS_SEND_TIMEOUT_SECONDS."""


class ChatSocket:
    def __init__(
        self, socket: WebSocket[Any, Any, Any], turns: ChatTurns, session_id: str, agent_id: int
    ) -> None:
        self._socket = socket
        self._turns = turns
        self._session_id = session_id
        self._agent_id = agent_id
        self._address = client_address(socket)
        self._seq = 0
        self._send_lock = asyncio.Lock()  # frames leave in `seq` order even when two tasks send
        self._submitting: asyncio.Task[None] | None = None  # this connection's message being accepted
        self._own: LiveTurn | None = None  # this connection's turn once accepted
        self._held: list[dict[str, Any]] | None = None  # refusals waiting for the new turn's `start`
        self._conversation_id = ""
        self._connected_at = 0  # the newest event_id when the connection opened
        self._relay: asyncio.Task[None] | None = None
        self._last_sent = time.monotonic()

    async def serve(self, agents: AgentService) -> None:
        await self._socket.accept()
        with OpenWebSocket():
            addresses = AddressConnections.of(self._socket.app.state)
            address = self._address or ""  # unknown (a Unix socket): one shared count
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
            self._conversation_id = await self._turns.conversation_of(self._session_id, self._agent_id)
            self._connected_at = await self._turns.newest_event_id(self._conversation_id)
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
        grace = asyncio.get_running_loop().call_later(_LISTEN_GRACE, self._relay_from, self._connected_at)
        try:
            await self._read_frames()
        except FrameTooLarge:
            await self._close(WS_1009_MESSAGE_TOO_BIG, "frame too large")
        except IdleTimeout:
            await self._close(WS_1000_NORMAL_CLOSURE, "idle timeout")
        finally:
            grace.cancel()
            connections.leave(self._session_id)
            await self._stop_relay()
            if self._turns.on_disconnect == "cancel":
                if self._submitting is not None:
                    self._submitting.cancel()
                if self._own is not None:
                    self._own.cancel()

    # --- frames from the client ---------------------------------------------------------------------

    async def _read_frames(self) -> None:
        settings = self._socket.app.state.settings
        while True:
            raw = await read_frame(self._socket, settings, busy=self._busy)
            if raw is None:
                return
            frame = await self._parse(raw)
            if frame is None:
                continue
            if frame.get("type") == "resume":
                await self._resume(frame)
                continue
            request = await self._message_of(frame)
            if request is None:
                continue
            if self._turn_running():
                await self._refuse_counted("turn_in_progress", "Wait for the current answer to end first.")
                continue
            self._relay_from(self._connected_at)
            self._own, self._held = None, []
            self._submitting = asyncio.create_task(self._submit(request))

    async def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        if isinstance(raw, bytes):
            await self._refuse_counted("invalid_encoding", "Frames must hold UTF-8 JSON text.")
            return None
        try:
            frame = _decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested deeper than msgspec decodes
            await self._refuse_counted("malformed_json", "The frame is not valid JSON.")
            return None
        if not isinstance(frame, dict):
            await self._refuse_counted("invalid_frame", 'Send a JSON object such as {"message": "Hola"}.')
            return None
        return frame

    async def _message_of(self, frame: dict[str, Any]) -> ChatRequest | None:
        message = frame.get("message", frame.get("mensaje"))
        if not isinstance(message, str):
            await self._refuse_counted("missing_message", 'The frame needs a "message" text.')
            return None
        origin = frame.get("origin")
        if origin is not None and not isinstance(origin, str):
            await self._refuse_counted("invalid_origin", "origin must be a text such as 'web'.")
            return None
        return ChatRequest(self._agent_id, self._session_id, message, origin, "web", "ws", self._address)

    async def _resume(self, frame: dict[str, Any]) -> None:
        after = frame.get("after_event_id")
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_OFFSET:
            await self._refuse_counted("invalid_frame", "after_event_id must be a whole number from 0.")
            return
        if self._turn_running():
            await self._refuse("turn_in_progress", "Resume between turns, not during one.")
            return
        # Not a chat request: a resume is not counted against the turn limits (a flapping network would
        # spend the visitor's turns); it costs one read of the feed.
        await self._stop_relay()
        self._relay = None
        self._relay_from(after)

    async def _submit(self, request: ChatRequest) -> None:
        try:
            self._own = await self._turns.submit(request)
        except TooManyRequests as error:
            count_rate_limited("ws", error.code)
            await self._send_error(error.code, error.detail, error.retry_after)
        except CentralitaError as error:
            await self._send_error(error.code, error.detail)
        finally:
            if self._own is None:
                await self._release_held()  # nothing of this turn will come: the refusals go now

    def _turn_running(self) -> bool:
        submitting = self._submitting is not None and not self._submitting.done()
        return submitting or (self._own is not None and not self._own.done())

    def _busy(self) -> bool:
        """A long answer, or a conversation this connection is relaying, is not idleness."""
        recently = (
            time.monotonic() - self._last_sent < self._socket.app.state.settings.ws_idle_timeout_seconds
        )
        return self._turn_running() or recently

    # --- the conversation's events to the client ------------------------------------------------------

    def _relay_from(self, after: int) -> None:
        if self._relay is None:
            self._relay = asyncio.create_task(self._relay_events(after))

    async def _stop_relay(self) -> None:
        if self._relay is not None and not self._relay.done():
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay

    async def _relay_events(self, after: int) -> None:
        try:
            async with self._turns.follow(self._conversation_id, after) as events:
                async for event in coalesced(events):  # token events that pile up leave as one frame
                    await self._relay_one(event)
        except CentralitaError as error:  # resume_gap, or the store failing while following
            await self._send_error(error.code, error.detail)
        except SendTimeout:
            log.info("client took no frame for %ss: closed", self._send_timeout)
            await self._close(WS_1008_POLICY_VIOLATION, "send timeout")
        except (WebSocketDisconnect, OSError, RuntimeError) as error:
            log.info("client left while following its conversation (%s)", type(error).__name__)

    async def _relay_one(self, event: FeedEvent) -> None:
        turn_news = event.type == START or event.type in TURN_ENDINGS
        if turn_news and self._held is not None and self._submitting is not None:
            await asyncio.wait([self._submitting])  # it ends right after the turn is accepted
        own = self._own is not None and event.data.get("message_id") == self._own.message_id
        if own and event.type in TURN_ENDINGS:
            self._own = None  # over for this connection once its end is sent: the next message may follow
        await self._send(feed_payload(event))
        if turn_news and own and self._held is not None:
            await self._release_held()

    # --- sending --------------------------------------------------------------------------------------

    @property
    def _send_timeout(self) -> float:
        return float(self._socket.app.state.settings.ws_send_timeout_seconds)

    async def _close(self, code: int, reason: str) -> None:
        # Bounded: a client that reads nothing cannot take a close frame either (uvicorn's protocol in
        # entrypoints/http/server_protocols.py then drops the connection at once).
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
            await asyncio.wait_for(self._socket.close(code=code, reason=reason), self._send_timeout)

    async def _refuse_counted(self, code: str, detail: str) -> None:
        """Refuse a frame that will not reach a turn, after counting it (every frame counts)."""
        try:
            await self._turns.admit(self._session_id, self._address)
        except TooManyRequests as error:
            count_rate_limited("ws", error.code)
            await self._refuse(error.code, error.detail, error.retry_after)
            return
        except CentralitaError as error:
            await self._refuse(error.code, error.detail)
            return
        await self._refuse(code, detail)

    async def _refuse(self, code: str, detail: str, retry_after: float | None = None) -> None:
        """An error frame about this connection's frame: held back while a new turn has not started."""
        payload = error_payload(code, detail, retry_after)
        if self._held is not None:
            self._held.append(payload)
            return
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
            await self._send(payload)

    async def _release_held(self) -> None:
        held, self._held = self._held or [], None
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
            for payload in held:
                await self._send(payload)

    async def _send_error(self, code: str, detail: str, retry_after: float | None = None) -> None:
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, SendTimeout):
            await self._send(error_payload(code, detail, retry_after))

    async def _send(self, payload: dict[str, Any]) -> None:
        async with self._send_lock:
            self._seq += 1
            data = encode_payload(payload, self._seq)
            try:
                async with asyncio.timeout(self._send_timeout):  # no extra task, unlike wait_for
                    await self._socket.send_data(data)
            except TimeoutError:
                raise SendTimeout from None
            self._last_sent = time.monotonic()


@websocket("/api/v1/chat/stream/{session_id:str}/{agent_id:int}")
async def chat_stream_socket(
    socket: WebSocket[Any, Any, Any],
    session_id: FromPath[str],
    agent_id: FromPath[int],
    chat_turns: NamedDependency[ChatTurns],
    agents: NamedDependency[AgentService],
) -> None:
    """Stream answers over a WebSocket: send `{"message": "…"}`, receive visitor_message, start, sources,
    token…, end; `{"type": "resume", "after_event_id": N}` replays the conversation after N."""
    await ChatSocket(socket, chat_turns, session_id, agent_id).serve(agents)


@websocket("/api/v1/groq/chat/stream/{session_id:str}/{id_agente:int}")
async def legacy_chat_stream_socket(
    socket: WebSocket[Any, Any, Any],
    session_id: FromPath[str],
    id_agente: FromPath[int],
    chat_turns: NamedDependency[ChatTurns],
    agents: NamedDependency[AgentService],
) -> None:
    """Legacy path of the WebSocket stream (frames may say `mensaje`)."""
    await ChatSocket(socket, chat_turns, session_id, id_agente).serve(agents)
