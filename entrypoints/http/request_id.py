"""The request id: one per HTTP request or WebSocket connection, in its response and every log line of it.

A client (or a proxy) may send its own `X-Request-ID`; it is kept when it looks like an id (1–64 characters of
letters, digits, `.`, `_`, `:`, `-`), so nobody can inject text into the logs through it. Otherwise a new
one is made. It lives in a context variable, which tasks started during the request inherit.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def accept_or_make(incoming: str | None) -> str:
    if incoming and _SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` ("-" outside a request) so formatters can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True
