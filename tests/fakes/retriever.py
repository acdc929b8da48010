"""A KnowledgeRetriever with fixed chunks per agent, for use-case tests."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.knowledge.markdown import MarkdownRenderer
from application.ports.knowledge import KnowledgeRetriever
from application.sources import sources_of
from domain.knowledge import ScoredChunk, Source


class FixedRetriever(KnowledgeRetriever):
    def __init__(self, chunks: dict[int, list[ScoredChunk]] | None = None) -> None:
        self.chunks = chunks or {}
        self.queries: list[tuple[int, str, int]] = []

    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        self.queries.append((agent_id, query, k))
        found = [c for c in self.chunks.get(agent_id, []) if min_score is None or c.score >= min_score]
        return found[:k]

    def sources(self, chunks: Sequence[ScoredChunk]) -> tuple[Source, ...]:
        return sources_of(chunks, MarkdownRenderer())
