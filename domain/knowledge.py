"""Knowledge: the documents an operator loads for an agent, their chunks, and the sources of an answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.errors import EmptyDocument, InvalidDocument

MAX_TITLE_CHARS = 200
MAX_SOURCE_CHARS = 500


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved chunk as shown to clients under an answer."""

    document_id: str
    title: str
    snippet: str
    score: float


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A chunk of an agent's knowledge and its cosine similarity to the question (higher is closer)."""

    document_id: str
    title: str
    text: str
    score: float
    chunk: int = 0

    def as_source(self, snippet_chars: int = 300) -> Source:
        snippet = self.text if len(self.text) <= snippet_chars else self.text[: snippet_chars - 1] + "…"
        return Source(self.document_id, self.title, snippet, round(self.score, 4))


@dataclass(frozen=True, slots=True)
class KnowledgeDocument:
    document_id: str
    agent_id: int
    title: str
    source: str | None
    chunks: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EmbeddedChunk:
    """One piece of a document, with the vector its text was embedded to (numbered from 0)."""

    document_id: str
    agent_id: int
    title: str
    chunk: int
    text: str
    embedding: tuple[float, ...]


def new_document_id() -> str:
    return uuid.uuid4().hex


def validate_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InvalidDocument("A document needs a non-empty title.")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidDocument(f"A document title has at most {MAX_TITLE_CHARS} characters.")
    return title


def validate_source(source: str | None) -> str | None:
    if source is None or not source.strip():
        return None
    source = source.strip()
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidDocument(f"A document source has at most {MAX_SOURCE_CHARS} characters.")
    return source


def validate_text(text: str) -> str:
    """The document's text with stray NULs and surrounding blank space removed; never empty."""
    text = text.replace("\x00", "").strip()
    if not text:
        raise EmptyDocument("The document has no text to learn from.")
    return text
