"""List bounds shared by every listing (PRODUCT.md: default 100, at most 1000)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")
        if self.offset < 0:
            raise InvalidInput("offset must not be negative.")
