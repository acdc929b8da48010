"""A stand-in Centralita server for developing and testing the chat widget in a browser.

TEMPORARY: this is NOT the product. It exists only because the real server is being written in
parallel. It implements just what the widget needs from /work/shared/PRODUCT.md:

* ``GET /widget/`` and ``GET /widget/<file>``: the static files of ``entrypoints/http/widget/static``,
  the demo page sent with the strict CSP ``default-src 'self'; connect-src 'self' ws: wss:``;
* ``GET /api/v1/chat/agents/{agent_id}``: ``{id, name, language, greeting, available, unavailable_code}`` (greeting null, so the widget's
  localized default shows; 404 ``not_found`` like an older server when ``public_agents`` is off);
* ``GET /api/v1/chat/history/{session_id}/{agent_id}``: ``[{id, role, content, created_at, status, sources}]``
  oldest first (or wrapped as ``{"messages": [...]}`` when ``wrap_history`` is set), and the newest
  ``event_id`` of the conversation in ``X-Last-Event-Id``;
* ``WS /api/v1/chat/stream/{session_id}/{agent_id}``: "Live conversations" (issue 13): every conversation
  event (``visitor_message``, ``start``, ``sources``, ``token``, ``end``, ``error``) is appended to a
  per-conversation event log with its ``event_id`` and sent to every connection of the conversation; a turn
  runs as a task of the server, not of the connection that asked; ``{"type": "resume", "after_event_id": N}``
  replays the log after ``N`` (consecutive tokens merged into one frame carrying the last ``event_id`` when
  ``coalesce_replay``; ``replay_overlap`` events more, already sent, which the client must skip), then
  live; ``resume_gap`` when ``N`` is older than the log keeps (:meth:`StubServer.prune`), also to a
  connection that fell behind it.
  Refusals of a connection's own frames (``rate_limited``, ``turn_in_progress``) carry no ``event_id``.
  ``seq`` counts from 1 per connection. With ``event_ids`` off it speaks the protocol from before issue 13
  (no ``event_id``, no ``visitor_message``, no resume, no header; a drop ends the answer ``interrupted``).

Switches (set from the test thread) script the failures the widget must survive: ``rate_limit_next``,
``drop_before_start_next`` (nothing stored), ``drop_after_visitor_message_next`` (stored, then the socket
drops before ``start``; the turn goes on), ``drop_mid_answer_next`` (the asking socket is closed at the fifth
token; the answer goes on in the log), ``deliver`` (off: connections get no events, like a client that fell
behind), :meth:`StubServer.drop_all`, :meth:`StubServer.prune` and :meth:`StubServer.run_turn` (a turn sent
from elsewhere); ``scripted`` queues other answers (tokens and sources) for the screenshots.

Once the real server exists, the browser tests point the ``widget_server_url`` fixture at it
(``CENTRALITA_WIDGET_SERVER_URL``) and the tests that need these switches are skipped; this module
is then to be deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn

STATIC_DIR = Path(__file__).resolve().parents[2] / "entrypoints" / "http" / "widget" / "static"
DEMO_CSP = "default-src 'self'; connect-src 'self' ws: wss:"
SESSION_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
KNOWN_AGENTS = {1, 2}

ANSWER_TOKENS = [
    "Nuestro ",
    "horario ",
    "de atención ",
    "es de lunes ",
    "a viernes, ",
    "de 9:00 ",
    "a 20:00. ",
    "Las averías ",
    "se atienden ",
    "todos los días.",
]
ANSWER = "".join(ANSWER_TOKENS)
SOURCES = [
    {
        "document_id": "doc-horarios",
        "title": "Horarios de atención",
        "snippet": "Atendemos por teléfono de lunes a viernes de 9:00 a 20:00; averías 24 h.",
        "score": 0.91,
        "source": "https://example.com/ayuda/horarios",
    },
    {
        # Hostile on purpose: must be shown as text, and the javascript: URL must not become a link.
        "document_id": "doc-x",
        "title": "<img src=x onerror=alert(1)>Tarifas",
        "snippet": "<b>not bold</b> Precios vigentes desde enero.",
        "score": 0.55,
        "source": "javascript:alert(1)",
    },
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Conn:
    loop: asyncio.AbstractEventLoop
    kill: asyncio.Event


@dataclass
class _Feed:
    """One conversation's event log (what the feed port keeps) and the signal its followers wait on."""

    events: list[dict[str, Any]] = field(default_factory=list)
    first_kept: int = 1  # the events before it were pruned: a resume from before it is a resume_gap
    busy: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def last_id(self) -> int:
        return self.events[-1]["event_id"] if self.events else 0

    async def append(self, event: dict[str, Any]) -> dict[str, Any]:
        async with self.changed:
            stored = {**event, "event_id": self.last_id + 1}
            self.events.append(stored)
            self.changed.notify_all()
        return stored

    def after(self, event_id: int, coalesce: bool) -> list[dict[str, Any]]:
        """The kept events after `event_id`, consecutive tokens merged when `coalesce`."""
        out: list[dict[str, Any]] = []
        for e in self.events:
            if e["event_id"] <= event_id or e["event_id"] < self.first_kept:
                continue
            if coalesce and e["type"] == "token" and out and out[-1]["type"] == "token":
                out[-1] = {**e, "content": out[-1]["content"] + e["content"]}
            else:
                out.append(e)
        return out


@dataclass
class StubServer:
    """State of the stand-in server; tests flip the switches from their own thread."""

    token_delay: float = 0.12
    rate_limit_next: int = 0
    rate_limit_resume_next: int = 0  # refuse this many `resume` frames rate_limited (every frame counts)
    retry_after: int = 2
    drop_before_start_next: bool = False
    drop_mid_answer_next: bool = False
    drop_after_visitor_message_next: bool = False
    event_ids: bool = True  # the "Live conversations" protocol; off: as before issue 13
    coalesce_replay: bool = True
    replay_overlap: int = 0  # a resume also sends this many events from before `after_event_id` again
    deliver: bool = True
    wrap_history: bool = False
    public_agents: bool = True
    llm_available: bool = True  # the public agent route's `available`
    history: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    scripted: list[tuple[list[str], list[dict[str, Any]]]] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    resumes: list[int] = field(default_factory=list)  # after_event_id of every resume frame, in order
    connections_opened: int = 0
    history_requests: int = 0
    _conns: list[_Conn] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _feeds: dict[tuple[str, int], _Feed] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None

    # ---- test-side controls -----------------------------------------------------------------
    def drop_all(self) -> int:
        """Close every open WebSocket from the server side (like a restart or a proxy timeout)."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.loop.call_soon_threadsafe(c.kill.set)
        return len(conns)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def prune(self, session_id: str, agent_id: int = 1) -> int:
        """Forgets the conversation's events so far (as the retention window would); returns the last id."""
        feed = self._feeds.get((session_id, agent_id))
        if feed is None:
            return 0
        feed.first_kept = feed.last_id + 1
        return feed.last_id

    def last_event_id(self, session_id: str, agent_id: int = 1) -> int:
        feed = self._feeds.get((session_id, agent_id))
        return feed.last_id if feed else 0

    def events(self, session_id: str, agent_id: int = 1) -> list[dict[str, Any]]:
        feed = self._feeds.get((session_id, agent_id))
        return list(feed.events) if feed else []

    def run_turn(self, session_id: str, agent_id: int, message: str, timeout: float = 10) -> None:
        """Runs a whole turn as if sent from another device of the visitor (no connection of this test's)."""
        assert self._loop is not None, "the stub has served nothing yet"

        async def turn() -> None:
            feed = self._feed(session_id, agent_id)
            feed.busy = True
            await self._run_turn(feed, session_id, agent_id, message, None, False)

        asyncio.run_coroutine_threadsafe(turn(), self._loop).result(timeout)

    def reset(self) -> None:
        self.drop_all()
        self.rate_limit_next = self.rate_limit_resume_next = 0
        self.drop_before_start_next = self.drop_mid_answer_next = self.wrap_history = False
        self.drop_after_visitor_message_next = False
        self.public_agents = self.llm_available = True
        self.event_ids = self.coalesce_replay = self.deliver = True
        self.replay_overlap = 0
        self.history.clear()
        self._feeds.clear()
        self.scripted.clear()
        self.received.clear()
        self.resumes.clear()
        self.connections_opened = self.history_requests = 0

    def _feed(self, session_id: str, agent_id: int) -> _Feed:
        return self._feeds.setdefault((session_id, agent_id), _Feed())

    # ---- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self._loop = asyncio.get_running_loop()
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path: str = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            await _json(send, 405, {"code": "method_not_allowed", "detail": "Method not allowed."})
            return
        if path == "/widget":
            await _respond(send, 308, b"", [(b"location", b"/widget/")])
            return
        if path.startswith("/widget/"):
            name = path.removeprefix("/widget/") or "index.html"
            if name.startswith("test/"):
                await self._test_page(send, name.removeprefix("test/"), scope)
                return
            file = (STATIC_DIR / name).resolve()
            if file.parent != STATIC_DIR or not file.is_file():
                await _json(send, 404, {"code": "not_found", "detail": "Not found."})
                return
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith("javascript"):
                ctype += "; charset=utf-8"
            headers = [(b"content-type", ctype.encode()), (b"cache-control", b"no-cache")]
            if ctype.startswith("text/html"):
                headers.append((b"content-security-policy", DEMO_CSP.encode()))
            await _respond(send, 200, file.read_bytes(), headers)
            return
        m = re.fullmatch(r"/api/v1/chat/history/([^/]+)/(\d+)", path)
        if m:
            sid, agent = m.group(1), int(m.group(2))
            if not SESSION_RE.match(sid):
                await _json(send, 422, {"code": "invalid_session_id", "detail": "Invalid session id."})
                return
            if agent not in KNOWN_AGENTS:
                await _json(send, 404, {"code": "agent_not_found", "detail": f"Agent {agent} not found."})
                return
            query = parse_qs(scope.get("query_string", b"").decode())
            limit = min(int(query.get("limit", ["100"])[0]), 1000)
            self.history_requests += 1
            msgs = self.history.get((sid, agent), [])[-limit:]
            headers = []
            if self.event_ids:
                last = str(self.last_event_id(sid, agent)).encode()
                headers = [(b"x-last-event-id", last), (b"access-control-expose-headers", b"X-Last-Event-Id")]
            await _json(send, 200, {"messages": msgs} if self.wrap_history else msgs, headers)
            return
        m = re.fullmatch(r"/api/v1/chat/agents/(\d+)", path)
        if m and self.public_agents:
            agent = int(m.group(1))
            if agent not in KNOWN_AGENTS:
                await _json(send, 404, {"code": "agent_not_found", "detail": f"Agent {agent} not found."})
                return
            down = None if self.llm_available else "llm_unavailable"
            public = {"id": agent, "name": "Asistente", "language": "es", "greeting": None}
            await _json(send, 200, {**public, "available": down is None, "unavailable_code": down})
            return
        if path == "/health":
            await _json(send, 200, {"status": "ok"})
            return
        await _json(send, 404, {"code": "not_found", "detail": "Not found."})

    async def _test_page(self, send: Any, name: str, scope: dict[str, Any]) -> None:
        """Extra host pages (e.g. English, explicit data-server), generated for the tests only."""
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        attrs = " ".join(
            f'data-{k}="{v}"' for k, v in query.items() if re.fullmatch(r"[a-z-]+", k) and '"' not in v
        )
        page = (
            "<!doctype html><html><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>test {name}</title>"
            f'<script src="/widget/centralita.js" {attrs} defer></script></head>'
            "<body><h1>Host page</h1></body></html>"
        )
        await _respond(
            send,
            200,
            page.encode(),
            [(b"content-type", b"text/html; charset=utf-8"), (b"content-security-policy", DEMO_CSP.encode())],
        )

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        m = re.fullmatch(r"/api/v1/chat/stream/([^/]+)/(\d+)", scope["path"])
        event = await receive()
        if event["type"] != "websocket.connect":
            return
        if not m:
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        sid, agent = m.group(1), int(m.group(2))
        seq = itertools.count(1)
        sending = asyncio.Lock()  # the feed's pump and the replies to this connection's frames share it

        async def emit(frame: dict[str, Any]) -> None:
            async with sending:
                await send({"type": "websocket.send", "text": json.dumps({**frame, "seq": next(seq)})})

        if not SESSION_RE.match(sid) or agent not in KNOWN_AGENTS:
            code = "invalid_session_id" if not SESSION_RE.match(sid) else "agent_not_found"
            await emit({"type": "error", "code": code, "detail": code.replace("_", " ")})
            await send({"type": "websocket.close", "code": 1008})
            return

        conn = _Conn(asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._conns.append(conn)
            self.connections_opened += 1
        recv_task: asyncio.Task[Any] | None = None
        kill_task = asyncio.ensure_future(conn.kill.wait())
        follower = _Follower(self, self._feed(sid, agent), emit) if self.event_ids else None
        # as the server: a connection that sends no frame follows live events after 2 s
        grace = asyncio.get_running_loop().call_later(2.0, follower.start) if follower else None
        try:
            while True:
                if recv_task is None:
                    recv_task = asyncio.ensure_future(receive())
                done, _ = await asyncio.wait({recv_task, kill_task}, return_when=asyncio.FIRST_COMPLETED)
                if kill_task in done:
                    await send({"type": "websocket.close", "code": 1012})
                    return
                event, recv_task = recv_task.result(), None
                if event["type"] == "websocket.disconnect":
                    return
                if follower is not None:
                    if not await self._frame(event, sid, agent, follower, conn, send):
                        return
                elif not await self._turn(event, sid, agent, emit, conn, send):
                    return
        finally:
            if grace is not None:
                grace.cancel()
            if follower is not None:
                await follower.stop()
            kill_task.cancel()
            if recv_task is not None:
                recv_task.cancel()
            with self._lock:
                self._conns.remove(conn)

    async def _frame(
        self, event: dict[str, Any], sid: str, agent: int, follower: _Follower, conn: _Conn, send: Any
    ) -> bool:
        """One client frame of the "Live conversations" protocol; False when the stub closed the socket."""
        try:
            payload = json.loads(event.get("text") or "")
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        if payload.get("type") == "resume":
            after = payload.get("after_event_id")
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                await follower.emit(
                    {"type": "error", "code": "invalid_message", "detail": "after_event_id: an integer >= 0."}
                )
                return True
            self.resumes.append(after)
            if (
                self.rate_limit_resume_next > 0
            ):  # refused like any counted frame: no relay until the 2 s grace
                self.rate_limit_resume_next -= 1
                await follower.emit(
                    {
                        "type": "error",
                        "code": "rate_limited",
                        "detail": "Too many chat turns.",
                        "retry_after": self.retry_after,
                    }
                )
                return True
            await follower.resume(after)
            return True
        follower.start()
        message = payload.get("message") or payload.get("mensaje")
        if not isinstance(message, str) or not message.strip():
            await follower.emit(
                {"type": "error", "code": "invalid_message", "detail": "A frame needs a message."}
            )
            return True
        self.received.append(message)
        if self.drop_before_start_next:
            self.drop_before_start_next = False
            await send({"type": "websocket.close", "code": 1011})
            return False
        feed = follower.feed
        refusal = None
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            refusal = {
                "code": "rate_limited",
                "detail": "Too many chat turns.",
                "retry_after": self.retry_after,
            }
        elif feed.busy:
            refusal = {"code": "turn_in_progress", "detail": "A reply is still being produced."}
        if refusal:  # a refusal of this connection's own frame: not a conversation event, no event_id
            await follower.emit({"type": "error", **refusal})
            return True
        feed.busy = True
        drop_vm, drop_mid = self.drop_after_visitor_message_next, self.drop_mid_answer_next
        self.drop_after_visitor_message_next = self.drop_mid_answer_next = False
        kill = conn.kill if drop_vm or drop_mid else None
        task = asyncio.ensure_future(self._run_turn(feed, sid, agent, message, kill, drop_vm))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run_turn(
        self, feed: _Feed, sid: str, agent: int, message: str, kill: asyncio.Event | None, drop_vm: bool
    ) -> None:
        """A turn owned by the server: its events go to the log whoever follows it (`kill`: the asking socket,
        closed right after the visitor's message is stored when `drop_vm`, else at the fifth token)."""
        try:
            tokens, sources = self.scripted.pop(0) if self.scripted else (ANSWER_TOKENS, SOURCES)
            conv = self.history.setdefault((sid, agent), [])
            message = unicodedata.normalize("NFC", message).strip()  # stored as validated (it may be)
            user = self._message("user", message)
            conv.append(user)
            if kill is not None and drop_vm:
                kill.set()
                await asyncio.sleep(0.05)  # closed before it could see its own visitor_message
            await feed.append({"type": "visitor_message", "message_id": user["id"], "content": message})
            reply = self._message("assistant", "", sources=sources)
            reply["status"] = "in_progress"
            conv.append(reply)
            await feed.append(
                {"type": "start", "message_id": reply["id"], "conversation_id": f"conv-{sid}-{agent}"}
            )
            await feed.append({"type": "sources", "sources": sources})
            produced = ""
            for i, piece in enumerate(tokens):
                await asyncio.sleep(self.token_delay)
                if kill is not None and not drop_vm and i == 4:
                    kill.set()  # the connection goes; the answer does not
                produced += piece
                reply["content"] = produced
                await feed.append({"type": "token", "content": piece})
            reply.update(content=produced, status="complete")
            usage = {"input_tokens": 42, "output_tokens": len(tokens), "total_tokens": 52}
            await feed.append(
                {
                    "type": "end",
                    "message_id": reply["id"],
                    "answer": produced,
                    "usage": usage,
                    "model": "stub:scripted",
                }
            )
        finally:
            feed.busy = False

    async def _turn(
        self, event: dict[str, Any], sid: str, agent: int, emit: Any, conn: _Conn, send: Any
    ) -> bool:
        """Answers one client frame (the protocol before issue 13); False when the connection was closed on purpose."""
        try:
            payload = json.loads(event.get("text") or "")
            message = payload.get("message") or payload.get("mensaje")
        except (ValueError, AttributeError):
            message = None
        if not isinstance(message, str) or not message.strip():
            await emit({"type": "error", "code": "invalid_message", "detail": "A frame needs a message."})
            return True
        self.received.append(message)
        if self.drop_before_start_next:
            self.drop_before_start_next = False
            await send({"type": "websocket.close", "code": 1011})
            return False
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            await emit(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "detail": "Too many chat turns; slow down.",
                    "retry_after": self.retry_after,
                }
            )
            return True
        tokens, sources = self.scripted.pop(0) if self.scripted else (ANSWER_TOKENS, SOURCES)
        conv = self.history.setdefault((sid, agent), [])
        conv.append(self._message("user", message))
        reply = self._message("assistant", "", sources=sources)
        await emit({"type": "start", "message_id": reply["id"], "conversation_id": f"conv-{sid}-{agent}"})
        await emit({"type": "sources", "sources": sources})
        drop_mid = self.drop_mid_answer_next
        self.drop_mid_answer_next = False
        produced = ""
        for i, piece in enumerate(tokens):
            await asyncio.sleep(self.token_delay)
            if conn.kill.is_set() or (drop_mid and i == 4):
                reply.update(content=produced, status="interrupted")
                conv.append(reply)
                await send({"type": "websocket.close", "code": 1011})
                return False
            produced += piece
            await emit({"type": "token", "content": piece})
        reply.update(content=produced, status="complete")
        conv.append(reply)
        await emit(
            {
                "type": "end",
                "message_id": reply["id"],
                "answer": produced,
                "usage": {"input_tokens": 42, "output_tokens": len(tokens), "total_tokens": 52},
                "model": "stub:scripted",
            }
        )
        return True

    def _message(
        self, role: str, content: str, sources: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        return {
            "id": f"m{next(self._ids)}",
            "role": role,
            "content": content,
            "created_at": _now(),
            "status": "complete",
            "sources": sources or [],
        }


_RESUME_GAP = {
    "type": "error",
    "code": "resume_gap",
    "detail": "Those events are no longer kept; reload history.",
}


class _Follower:
    """A connection following its conversation's feed: from a resume, else live from when it connected.

    Nothing is sent before the client's first frame, or 2 s without one (as the server): were live events sent
    before a `resume` is read, the replay would come after newer events, and the client, which skips every id
    up to the newest it applied, would lose the replayed ones ("exactly once, in order" holds only this way).
    """

    def __init__(self, stub: StubServer, feed: _Feed, emit: Any) -> None:
        self.stub, self.feed, self.emit = stub, feed, emit
        self.cursor = feed.last_id
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._follow())

    async def _held(self) -> None:
        # `deliver` is flipped from the test's thread, where an asyncio.Event cannot be set: poll it
        while not self.stub.deliver:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def _follow(self) -> None:
        while True:
            async with self.feed.changed:
                await self.feed.changed.wait_for(lambda: self.feed.last_id > self.cursor)
            await self._held()
            if self.cursor < self.feed.first_kept - 1:  # fell behind what is kept: the client must resync
                self.cursor = self.feed.last_id
                await self.emit(_RESUME_GAP)
                continue
            for e in self.feed.after(self.cursor, False):
                self.cursor = e["event_id"]
                await self.emit(e)

    async def stop(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def resume(self, after: int) -> None:
        await self.stop()
        if after < self.feed.first_kept - 1:
            self.cursor = self.feed.last_id  # live from now on
            await self.emit(_RESUME_GAP)
        else:
            await self._held()
            start = max(after - self.stub.replay_overlap, self.feed.first_kept - 1)
            again = [e for e in self.feed.after(start, False) if e["event_id"] <= after]  # one by one
            replay = again + self.feed.after(after, self.stub.coalesce_replay)
            self.cursor = replay[-1]["event_id"] if replay else after
            for e in replay:
                await self.emit(e)
        self.start()


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(data).encode()
    await _respond(send, status, body, [(b"content-type", b"application/json"), *(headers or [])])


class RunningStub:
    """The stub served by uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, app: StubServer | None = None) -> None:
        self.app = app or StubServer()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", ws_ping_interval=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> RunningStub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the widget stub server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.drop_all()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._sock.close()


if __name__ == "__main__":  # manual use: python -m tests.browser.widget_stub_server
    with RunningStub() as stub:
        print(f"widget demo at {stub.url}/widget/  (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
