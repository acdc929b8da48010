"""Every chat request counts against the rate limits, refused ones too (PRODUCT.md).

A request that reaches the turn is counted by the use case itself (step 0 of `ChatTurns.submit`). One the
turn never sees — a body that is not UTF-8 or does not decode into the route's schema — is counted here, by
the chat routes' `before_request` hook, against its session (when one can be read) and its address.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection

from application.live_chat import ChatTurns
from domain.errors import InvalidCharacters
from entrypoints.http.client_address import client_address
from entrypoints.http.schemas import ChatBody, LegacyChatBody


def chat_turns_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ChatTurns:
    turns: ChatTurns = connection.app.state.container.chat_turns()
    return turns


def _session_in(body: bytes) -> str | None:
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # the route answers malformed JSON itself
        return None
    session = data.get("session_id") if isinstance(data, dict) else None
    return session if isinstance(session, str) else None


def _reaches_the_turn(body: bytes, legacy: bool) -> bool:
    """Whether the route will decode this body (as Litestar does: msgspec, not strict) and call the turn."""
    try:
        msgspec.json.decode(body, type=LegacyChatBody if legacy else ChatBody, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False
    return True


async def count_chat_request(request: Request[Any, Any, Any]) -> None:
    """Count a request the turn will not see (malformed) and refuse it (429) or bad encoding (422) early."""
    body = await request.body()
    turns = chat_turns_of(request)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        await turns.admit(None, client_address(request))
        raise InvalidCharacters("The request body is not valid UTF-8.") from None
    if request.method == "POST" and not _reaches_the_turn(body, "/groq/" in request.url.path):
        await turns.admit(_session_in(body), client_address(request))
