"""Port: the knowledge an agent answers from."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.knowledge import ScoredChunk


class KnowledgeRetriever(ABC):
    """Finds the chunks of one agent's knowledge closest to a question."""

    @abstractmethod
    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        """At most `k` chunks of agent `agent_id` only, best first, none scoring below `min_score`."""
