"""The real `centralita serve` for the browser tests, behind a TCP proxy the tests can sever or re-point.

The browser only ever sees the proxy's port, so a test can cut every connection (`sever`: what a restart,
a load balancer timeout or a dropped mobile network looks like to the widget) or restart the server process
(`restart`: a new port behind the same proxy address) without the page noticing anything but the drop.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.e2e.server import running_server


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `upstream`, byte for byte, one thread per direction."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.upstream: tuple[str, int] | None = None
        self.accepted = 0
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                assert self.upstream is not None
                upstream = socket.create_connection(self.upstream, timeout=5)
            except (OSError, AssertionError):
                client.close()  # like a server that is down: the browser sees a failed connection
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]
    ) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> bool:
        with self._lock:
            if pair not in self._pairs:
                return False
            self._pairs.discard(pair)
        for s in pair:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        return True

    def sever(self) -> int:
        """Cuts every open connection at once (both sides see the TCP connection end); returns how many."""
        with self._lock:
            pairs = list(self._pairs)
        return sum(self._drop(pair) for pair in pairs)

    def close(self) -> None:
        self.sever()
        self._listener.close()


class RealServer:
    """`centralita serve` (tests/e2e/server.py) behind a TcpProxy; `url` is the proxy's address."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.proxy = TcpProxy()
        self.direct_url = ""
        self._stack = ExitStack()

    @property
    def url(self) -> str:
        return self.proxy.url

    def start(self) -> None:
        self.direct_url = self._stack.enter_context(running_server(self.env, self.cwd))
        port = int(self.direct_url.rsplit(":", 1)[1])
        self.proxy.upstream = ("127.0.0.1", port)

    def stop(self) -> None:
        self.proxy.upstream = None
        self._stack.close()
        self._stack = ExitStack()

    def restart(self) -> None:
        self.stop()
        self.proxy.sever()
        self.start()

    def close(self) -> None:
        self.stop()
        self.proxy.close()

    # ---- admin and public routes, called directly (loopback: admin routes need no key) ---------------
    def add_document(self, agent_id: int, title: str, text: str) -> None:
        r = httpx.post(
            f"{self.direct_url}/api/v1/agents/{agent_id}/documents",
            json={"title": title, "text": text},
            timeout=60,
        )
        r.raise_for_status()

    def create_agent(self, **fields: object) -> int:
        r = httpx.post(f"{self.direct_url}/api/v1/agents", json=fields, timeout=10)
        r.raise_for_status()
        return int(r.json()["id"])

    def history(self, session_id: str, agent_id: int = 1) -> list[dict[str, object]]:
        r = httpx.get(f"{self.direct_url}/api/v1/chat/history/{session_id}/{agent_id}", timeout=10)
        r.raise_for_status()
        result: list[dict[str, object]] = r.json()
        return result

    def speaks_event_ids(self) -> bool:
        """Whether the server has issue 13's live conversations (its history route names the newest event)."""
        r = httpx.get(f"{self.direct_url}/api/v1/chat/history/probe-event-ids/1", timeout=10)
        return r.headers.get("x-last-event-id") is not None


class HostPages:
    """Another site (its own origin on loopback) that embeds the widget, as a company's pages would.

    Pages are registered by name and served with a CSP that allows only the Centralita server, as
    docs/widget.md tells a company to write it.
    """

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str]] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = pages.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                body, csp = found
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", csp)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def page(self, name: str, server: str, **attrs: str) -> str:
        """A page embedding the widget of `server` with data-<attr>s; returns its URL."""
        ws = server.replace("http", "ws", 1)
        csp = f"default-src 'self'; script-src 'self' {server}; connect-src 'self' {server} {ws}"
        tags = " ".join(f'data-{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        html = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{name}</title><script src="{server}/widget/centralita.js" data-server="{server}" {tags} defer>'
            "</script></head><body><h1>A company's page</h1></body></html>"
        )
        self.pages[f"/{name}"] = (html, csp)
        return f"{self.origin}/{name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
