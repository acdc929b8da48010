"""Rate limits and quotas at the HTTP edge: every chat request is counted before its body is validated.

`count_chat_request` is the chat routes' `before_request` hook: it reads the `session_id` from the raw body
(leniently — an invalid body is still counted, by its address) and asks `ChatAdmission`. The WebSocket counts
each frame through `admit_frame`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection

from application.limits import ChatAdmission
from domain.errors import InvalidCharacters
from entrypoints.http.client_address import client_address


def admission_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ChatAdmission:
    admission: ChatAdmission = connection.app.state.container.admission()
    return admission


def _session_in(body: bytes) -> str | None:
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # the route answers malformed JSON itself
        return None
    session = data.get("session_id") if isinstance(data, dict) else None
    return session if isinstance(session, str) else None


async def count_chat_request(request: Request[Any, Any, Any]) -> None:
    """Count the request against its session and address; refuse it (429) or bad encoding (422) early."""
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        await admission_of(request).admit(None, client_address(request))
        raise InvalidCharacters("The request body is not valid UTF-8.") from None
    await admission_of(request).admit(_session_in(body), client_address(request))
