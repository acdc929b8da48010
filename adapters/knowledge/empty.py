"""A KnowledgeRetriever for agents without knowledge: it finds nothing."""

from __future__ import annotations

from application.ports.knowledge import KnowledgeRetriever
from domain.knowledge import ScoredChunk


class EmptyRetriever(KnowledgeRetriever):
    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        return []
