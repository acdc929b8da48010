"""Knowledge: the documents an operator loads for an agent, their chunks, and the sources of an answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved chunk as shown to clients under an answer."""

    document_id: str
    title: str
    snippet: str
    score: float


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A chunk of an agent's knowledge and its similarity to the question (higher is closer)."""

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
