"""A stand-in Centralita server for developing and testing the chat widget in a browser.

TEMPORARY: this is NOT the product. It exists only because the real server is being written in
parallel. It implements just what the widget needs from /work/shared/PRODUCT.md:

* ``GET /widget/`` and ``GET /widget/<file>``: the static files of ``entrypoints/http/widget/static``,
  the demo page sent with the strict CSP ``default-src 'self'; connect-src 'self' ws: wss:``;
* ``GET /api/v1/chat/agents/{agent_id}``: ``{id, name, language, greeting, available, unavailable_code}`` (greeting null, so the widget's
  localized default shows; 404 ``not_found`` like an older server when ``public_agents`` is off);
* ``GET /api/v1/chat/history/{session_id}/{agent_id}``: ``[{id, role, content, created_at, status, sources}]``
  oldest first (or wrapped as ``{"messages": [...]}`` when ``wrap_history`` is set);
* ``WS /api/v1/chat/stream/{session_id}/{agent_id}``: ``start``, ``sources``, several ``token`` frames and
  ``end`` per turn, ``seq`` counting from 1 per connection, ``error`` frames by code.

Switches (set from the test thread) script the failures the widget must survive: ``rate_limit_next``,
``drop_before_start_next``, ``drop_mid_answer_next`` and :meth:`StubServer.drop_all`; ``scripted`` queues
other answers (tokens and sources) for the screenshots.

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
class StubServer:
    """State of the stand-in server; tests flip the switches from their own thread."""

    token_delay: float = 0.12
    rate_limit_next: int = 0
    retry_after: int = 2
    drop_before_start_next: bool = False
    drop_mid_answer_next: bool = False
    wrap_history: bool = False
    public_agents: bool = True
    llm_available: bool = True  # the public agent route's `available`
    history: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    scripted: list[tuple[list[str], list[dict[str, Any]]]] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    connections_opened: int = 0
    history_requests: int = 0
    _conns: list[_Conn] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

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

    def reset(self) -> None:
        self.drop_all()
        self.rate_limit_next = 0
        self.drop_before_start_next = self.drop_mid_answer_next = self.wrap_history = False
        self.public_agents = self.llm_available = True
        self.history.clear()
        self.scripted.clear()
        self.received.clear()
        self.connections_opened = self.history_requests = 0

    # ---- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
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
            await _json(send, 200, {"messages": msgs} if self.wrap_history else msgs)
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

        async def emit(frame: dict[str, Any]) -> None:
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
                if not await self._turn(event, sid, agent, emit, conn, send):
                    return
        finally:
            kill_task.cancel()
            if recv_task is not None:
                recv_task.cancel()
            with self._lock:
                self._conns.remove(conn)

    async def _turn(
        self, event: dict[str, Any], sid: str, agent: int, emit: Any, conn: _Conn, send: Any
    ) -> bool:
        """Answers one client frame; False when the connection was closed on purpose."""
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


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: Any) -> None:
    await _respond(send, status, json.dumps(data).encode(), [(b"content-type", b"application/json")])


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
