"""The KnowledgeRetriever port, measured: how long retrieval takes and how often it fails."""

from __future__ import annotations

import time
from collections.abc import Sequence

from adapters.metrics.prometheus import RETRIEVAL_ERRORS, RETRIEVAL_LATENCY
from application.ports.knowledge import KnowledgeRetriever
from domain.errors import CentralitaError
from domain.knowledge import ScoredChunk, Source


class InstrumentedRetriever(KnowledgeRetriever):
    def __init__(self, inner: KnowledgeRetriever) -> None:
        self._inner = inner

    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        started = time.perf_counter()
        try:
            return await self._inner.retrieve(agent_id, query, k, min_score)
        except CentralitaError as error:
            RETRIEVAL_ERRORS.labels(error.code).inc()
            raise
        finally:
            RETRIEVAL_LATENCY.observe(time.perf_counter() - started)

    def sources(self, chunks: Sequence[ScoredChunk]) -> tuple[Source, ...]:
        return self._inner.sources(chunks)
