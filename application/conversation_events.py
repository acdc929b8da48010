"""The events of a conversation as its feed keeps them: a type and the JSON fields every client receives
(PRODUCT.md, "WebSocket stream" and "Live conversations"). Entrypoints add `event_id` and `seq`."""

from __future__ import annotations

from typing import Any

from application.events import SourcesFound, StreamEvent, TokenProduced, TurnEnded, TurnFailed, TurnStarted
from domain.conversations import Message
from domain.knowledge import Source
from domain.usage import Usage

VISITOR_MESSAGE = "visitor_message"
START = "start"
SOURCES = "sources"
TOKEN = "token"
END = "end"
ERROR = "error"
TURN_ENDINGS = frozenset({END, ERROR})


def source_fields(source: Source) -> dict[str, Any]:
    return {
        "document_id": source.document_id,
        "title": source.title,
        "snippet": source.snippet,
        "score": source.score,
    }


def usage_fields(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def visitor_message(question: Message) -> tuple[str, dict[str, Any]]:
    return VISITOR_MESSAGE, {"message_id": question.id, "content": question.content}


def error_fields(code: str, detail: str, retry_after: float | None = None) -> dict[str, Any]:
    """The error fields of a conversation's `error` event: the API's one error shape (`ErrorBody` in
    entrypoints/http/error_body.py, which HTTP answers and the OpenAPI component use; a test keeps them equal)."""
    fields: dict[str, Any] = {"code": code, "detail": detail}
    if retry_after is not None:
        fields["retry_after"] = retry_after
    return fields


def turn_event(event: StreamEvent, message_id: str) -> tuple[str, dict[str, Any]]:
    """A streamed turn's event. Token pieces and an `error` name their reply (`message_id`), so a client
    following a conversation where two turns overlap (two tabs) can tell the answers apart."""
    match event:
        case TokenProduced(content):
            return TOKEN, {"content": content, "message_id": message_id}
        case TurnStarted(reply_id, conversation_id):
            return START, {"message_id": reply_id, "conversation_id": conversation_id}
        case SourcesFound(sources):
            return SOURCES, {"sources": [source_fields(s) for s in sources], "message_id": message_id}
        case TurnEnded(reply_id, answer, usage, model):
            return END, {
                "message_id": reply_id,
                "answer": answer,
                "usage": usage_fields(usage),
                "model": model,
            }
        case TurnFailed(code, detail, retry_after):
            return ERROR, {**error_fields(code, detail, retry_after), "message_id": message_id}
    raise TypeError(f"unknown stream event {event!r}")
