"""Visitors: the anonymous people behind a widget's `session_id`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from domain import rules
from domain.errors import InvalidOrigin, InvalidSessionId
from domain.rules import DEFAULT_ORIGIN, MAX_ORIGIN_CHARS

SESSION_ID_PATTERN = re.compile(rules.SESSION_ID_PATTERN)
_ORIGIN_PATTERN = re.compile(rules.ORIGIN_PATTERN)


def validate_session_id(session_id: str) -> str:
    """Return the id when it is 1–128 characters of `A–Z a–z 0–9 . _ : -`, else raise."""
    if not isinstance(session_id, str) or not SESSION_ID_PATTERN.fullmatch(session_id):
        raise InvalidSessionId(
            f"session_id must be 1 to {rules.MAX_SESSION_ID_CHARS} characters of {rules.IDENTIFIER_CHARACTERS_TEXT}."
        )
    return session_id


def normalize_origin(origin: str | None) -> str:
    """The channel a visitor came from (`web`, `whatsapp`, …): free text, at most 32 characters."""
    if origin is None or origin == "":
        return DEFAULT_ORIGIN
    if not _ORIGIN_PATTERN.fullmatch(origin):
        raise InvalidOrigin(
            f"origin must be 1 to {MAX_ORIGIN_CHARS} characters of {rules.IDENTIFIER_CHARACTERS_TEXT}."
        )
    return origin


@dataclass(frozen=True, slots=True)
class Visitor:
    session_id: str
    origin: str
    first_seen: datetime
    last_seen: datetime
    message_count: int = 0
