"""The events of a streamed chat turn (PRODUCT.md, "WebSocket stream"); entrypoints add `seq`."""

from __future__ import annotations

from dataclasses import dataclass

from domain.knowledge import Source
from domain.usage import Usage


@dataclass(frozen=True, slots=True)
class TurnStarted:
    message_id: str
    conversation_id: str


@dataclass(frozen=True, slots=True)
class SourcesFound:
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class TokenProduced:
    content: str


@dataclass(frozen=True, slots=True)
class TurnEnded:
    message_id: str
    answer: str
    usage: Usage | None
    model: str


@dataclass(frozen=True, slots=True)
class TurnFailed:
    code: str
    detail: str
    retry_after: float | None = None


StreamEvent = TurnStarted | SourcesFound | TokenProduced | TurnEnded | TurnFailed
