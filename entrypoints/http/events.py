"""Conversation events as the JSON frames of PRODUCT.md ("WebSocket stream", "Live conversations"), shared by
the WebSocket and SSE: the feed's fields plus `event_id`, and `seq` counted per connection."""

from __future__ import annotations

from typing import Any

import msgspec

from application.ports.feed import FeedEvent
from entrypoints.http.error_body import error_body

_encoder = msgspec.json.Encoder()


def feed_payload(event: FeedEvent) -> dict[str, Any]:
    return {"type": event.type, **event.data, "event_id": event.event_id}


def error_payload(code: str, detail: str, retry_after: float | None = None) -> dict[str, Any]:
    """An `error` event about this connection's own request (a refusal, no `event_id`): the one error shape
    (`ErrorBody`) with its `type`."""
    return {"type": "error", **error_body(code, detail, retry_after)}


def encode_payload(payload: dict[str, Any], seq: int) -> str:
    payload["seq"] = seq
    return _encoder.encode(payload).decode()
