"""Conversations between one visitor and one agent, and their messages."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.clock import utc_now
from domain.errors import EmptyMessage, InvalidCharacters, MessageTooLong
from domain.knowledge import Source
from domain.rules import CONTROL_CHARACTERS, LONE_SURROGATES
from domain.usage import Usage


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # the client left mid-stream; content is what was produced so far
    FAILED = "failed"  # the provider failed; content is what was produced so far, `error` says why


def new_id() -> str:
    """Ids are opaque strings, unique without coordination between workers."""
    return uuid.uuid4().hex


_CONVERSATIONS = uuid.UUID("5f0c3a52-7d2e-4c1b-9a8e-3b6d1f4e2a90")


def conversation_id_for(session_id: str, agent_id: int) -> str:
    """The id a new conversation of this visitor with this agent gets: known before the conversation exists,
    so a second tab can follow a conversation its first tab has not started yet (conversations created before
    this rule keep their random ids; look them up first)."""
    return uuid.uuid5(_CONVERSATIONS, f"{agent_id}/{session_id}").hex


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    role: Role
    content: str
    created_at: datetime = field(default_factory=utc_now)
    status: MessageStatus = MessageStatus.COMPLETE
    model: str | None = None
    usage: Usage | None = None
    sources: tuple[Source, ...] = ()
    error: str | None = None  # the failure code for FAILED replies (never a provider's raw text)
    seq: int = 0  # position in the conversation, assigned by the store on append


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    session_id: str
    agent_id: int
    created_at: datetime
    updated_at: datetime
    message_count: int = 0
    usage: Usage = field(default_factory=Usage)


# Control characters (but tab, line feed and carriage return) and lone surrogates (domain/rules.py).
_FORBIDDEN_CHARACTERS = re.compile(f"[{CONTROL_CHARACTERS}{LONE_SURROGATES}]")


def validate_message_text(text: object, max_chars: int) -> str:
    """A visitor message: non-blank text of at most `max_chars` characters."""
    if not isinstance(text, str) or not text.strip():
        raise EmptyMessage("The message is empty.")
    if len(text) > max_chars:
        raise MessageTooLong(len(text), max_chars)
    if _FORBIDDEN_CHARACTERS.search(text):
        raise InvalidCharacters(
            "The message holds control characters or unpaired surrogates; only text, line breaks and tabs."
        )
    return text
