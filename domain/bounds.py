"""Bounds of every integer a client may send (ids, paging): one definition for the domain, the use cases and
the HTTP schema, so the OpenAPI schema says what the server accepts and no value overflows a store's 64 bits."""

from __future__ import annotations

from domain.errors import InvalidInput

MAX_ID = 2**53 - 1  # the largest integer a JSON client (JavaScript) reads exactly
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = MAX_ID
# A reply past this many characters is cut (stored `failed`): a provider may ignore max_tokens, and a store
# document has a size limit (MongoDB: 16 MB).
MAX_REPLY_CHARS = 1_000_000


def validate_agent_id(agent_id: int) -> int:
    """Return `agent_id` when it is within 1..MAX_ID, else raise InvalidInput (422 `invalid_input`)."""
    if not 1 <= agent_id <= MAX_ID:
        raise InvalidInput(f"agent_id must be between 1 and {MAX_ID}.")
    return agent_id
