"""List bounds shared by every listing (PRODUCT.md: default 100, at most 1000; domain/bounds.py)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.bounds import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}.")
