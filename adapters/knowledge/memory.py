"""A KnowledgeStore in process memory (STORAGE=memory): the documents in a dict, the chunks in the local index."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.knowledge.local_index import LocalVectorIndex
from application.ports.knowledge import KnowledgeStore
from domain.knowledge import EmbeddedChunk, KnowledgeDocument, ScoredChunk


class MemoryKnowledgeStore(KnowledgeStore):
    def __init__(self) -> None:
        self._documents: dict[str, KnowledgeDocument] = {}
        self._index = LocalVectorIndex()

    async def load(self) -> None:
        return None

    async def add(self, document: KnowledgeDocument, chunks: Sequence[EmbeddedChunk]) -> None:
        self._index.add(chunks)
        self._documents[document.document_id] = document

    async def documents(self, agent_id: int, limit: int, offset: int) -> list[KnowledgeDocument]:
        mine = [d for d in self._documents.values() if d.agent_id == agent_id]
        return mine[offset : offset + limit]

    async def delete(self, agent_id: int, document_id: str) -> bool:
        document = self._documents.get(document_id)
        if document is None or document.agent_id != agent_id:
            return False
        del self._documents[document_id]
        self._index.remove([document_id])
        return True

    async def delete_agent(self, agent_id: int) -> int:
        mine = [d.document_id for d in self._documents.values() if d.agent_id == agent_id]
        for document_id in mine:
            del self._documents[document_id]
        self._index.remove(mine)
        return len(mine)

    async def search(
        self, agent_id: int, vector: Sequence[float], k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        return self._index.search(agent_id, vector, k, min_score)

    async def has_documents(self, agent_id: int) -> bool:
        return self._index.has(agent_id)

    async def stored_dimensions(self) -> int | None:
        return self._index.dimensions
