"""A server that cannot start says why in one line, not in a page of ExceptionGroup traceback.

When the app's lifespan fails (the embedded store locked, MONGODB_URI unreachable, a bad setting), Litestar
hands uvicorn the whole formatted traceback and uvicorn logs it, then "Application startup failed. Exiting."
and exit code 3. `StartupFailureFilter` turns that record into `startup failed: <the error's own message>`;
the full traceback stays available at DEBUG level (LOG_LEVEL=DEBUG).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

# The innermost "module.ErrorType: message" line of a traceback, inside exception-group art ("| ", "+-").
_ERROR_LINE = re.compile(
    r"^[\s|+-]*(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (?P<message>.+)$"
)


def startup_error_summary(traceback_text: str) -> str | None:
    """`ErrorType: message` of the error that stopped startup, None when `traceback_text` is no traceback."""
    if not traceback_text.lstrip().startswith(("Traceback", "+ Exception Group Traceback", "  + Exception")):
        return None
    found = [m for line in traceback_text.splitlines() if (m := _ERROR_LINE.match(line))]
    specific = [m for m in found if not m["type"].endswith("ExceptionGroup")]
    candidates = specific or found
    if not candidates:
        return None
    chosen = candidates[-1]
    return f"{chosen['type'].rsplit('.', 1)[-1]}: {chosen['message'].strip()}"


class StartupFailureFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "uvicorn.error" or record.levelno < logging.ERROR:
            return True
        if record.exc_info and "lifespan" in str(record.msg):
            # uvicorn's second report of the same failure ("Exception in 'lifespan' protocol").
            return logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)
        text = record.getMessage()
        summary = startup_error_summary(text)
        if summary is None:
            return True
        record.msg, record.args, record.exc_info, record.exc_text = (
            f"startup failed: {summary}",
            (),
            None,
            None,
        )
        return True


class ShutdownCancelFilter(logging.Filter):
    """A stream still open when the SIGTERM grace period ends is cancelled by uvicorn, which logs the
    cancellation as "Exception in ASGI application" with a traceback. It is expected (the reply is stored
    `interrupted`): one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error" and record.exc_info:
            error = record.exc_info[1]
            if isinstance(error, asyncio.CancelledError) and "graceful shutdown" in str(error):
                record.msg, record.args, record.exc_info, record.exc_text = (
                    "a response still streaming was cut by the shutdown (its reply is stored as interrupted)",
                    (),
                    None,
                    None,
                )
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def server_options(settings: Any) -> dict[str, Any]:
    """uvicorn's settings that hardening depends on (used by `centralita serve`).

    * `ws_max_size`: frames above WS_MAX_FRAME_BYTES are refused by the server itself, with close code 1009;
    * `timeout_graceful_shutdown`: on SIGTERM, open HTTP streams get SHUTDOWN_GRACE_SECONDS to finish, then
      are cancelled — a reply cut short is stored `interrupted` (WebSockets are closed with 1012 at once and
      their turns stored the same way) — before the store closes;
    * `proxy_headers` off: the app alone decides whom to believe about client addresses (TRUSTED_PROXIES);
    * no `Server` header: the stack's name and version are nobody's business;
    * `ws`: a WebSocket protocol that drops a client which stopped reading (entrypoints/http/server_protocols.py);
    * `http`: an HTTP protocol closing connections whose headers take over REQUEST_HEADER_TIMEOUT_SECONDS.
    """
    from entrypoints.http.server_protocols import HeaderTimeoutProtocol, WebSocketProtocol

    return {
        "http": HeaderTimeoutProtocol,
        "ws": WebSocketProtocol,
        "ws_max_size": settings.ws_max_frame_bytes,
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace_seconds),
        "proxy_headers": False,
        "server_header": False,
    }
