"""Stream events as the JSON frames of PRODUCT.md ("WebSocket stream"), shared by WebSocket and SSE."""

from __future__ import annotations

from typing import Any

import msgspec

from application.events import SourcesFound, StreamEvent, TokenProduced, TurnEnded, TurnFailed, TurnStarted
from entrypoints.http.error_body import error_body
from entrypoints.http.schemas import sources_out, usage_out

_encoder = msgspec.json.Encoder()


def event_payload(event: StreamEvent) -> dict[str, Any]:
    match event:
        case TokenProduced(content):
            return {"type": "token", "content": content}
        case TurnStarted(message_id, conversation_id):
            return {"type": "start", "message_id": message_id, "conversation_id": conversation_id}
        case SourcesFound(sources):
            return {"type": "sources", "sources": sources_out(sources)}
        case TurnEnded(message_id, answer, usage, model):
            return {
                "type": "end",
                "message_id": message_id,
                "answer": answer,
                "usage": usage_out(usage),
                "model": model,
            }
        case TurnFailed(code, detail, retry_after):
            return error_payload(code, detail, retry_after)
    raise TypeError(f"unknown stream event {event!r}")


def error_payload(code: str, detail: str, retry_after: float | None = None) -> dict[str, Any]:
    """A stream's `error` event: the one error shape (`ErrorBody`) with its `type`."""
    return {"type": "error", **error_body(code, detail, retry_after)}


def encode_payload(payload: dict[str, Any], seq: int) -> str:
    payload["seq"] = seq
    return _encoder.encode(payload).decode()


def encode_event(event: StreamEvent, seq: int) -> str:
    return encode_payload(event_payload(event), seq)
