"""The one shape of every error a client reads: an HTTP error body, a stream's `error` event (WebSocket and
SSE, which add their `type` and `seq`), and the OpenAPI `ErrorBody` component are all built from `ErrorBody`."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """`code` is a stable machine word (docs/api.md), `detail` a human sentence; `retry_after` (seconds) when
    waiting helps. HTTP answers carry the wait in a `Retry-After` header instead."""

    detail: str
    code: str
    retry_after: float | None = None


def error_body(code: str, detail: str, retry_after: float | None = None) -> dict[str, Any]:
    """An `ErrorBody` as the JSON object it is sent as (`retry_after` only when given)."""
    return msgspec.to_builtins(ErrorBody(detail, code, retry_after))  # type: ignore[no-any-return]


def encode_error_body(code: str, detail: str) -> bytes:
    """An `ErrorBody` as JSON bytes, for answers sent below the framework (raw ASGI middleware)."""
    return msgspec.json.encode(ErrorBody(detail, code))
