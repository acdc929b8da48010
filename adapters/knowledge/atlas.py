"""KnowledgeStore on MongoDB Atlas Vector Search (VECTOR_SEARCH=atlas), through langchain-mongodb.

Writes are the local adapter's (same collections and layout); searches go through langchain-mongodb's
`MongoDBAtlasVectorSearch` with a pre-filter on `agent_id`, so the `$vectorSearch` index only ever looks at
the asking agent's chunks. Atlas scores cosine similarity as `(1 + cos) / 2`; this adapter turns it back into
the cosine the other adapters report, so `min_score` means the same everywhere.

The search index (docs/atlas-vector-index.json) is created by `create_atlas_index` — `centralita atlas
create-index` calls it. `MongoDBAtlasVectorSearch` is synchronous (pymongo): it gets its own `MongoClient`
and runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_mongodb import MongoDBAtlasVectorSearch
from langchain_mongodb.index import create_vector_search_index  # type: ignore[attr-defined]  # no __all__
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from adapters.mongodb.errors import store_unavailable
from adapters.mongodb.knowledge import CHUNKS, MongoKnowledgeRecords
from application.ports.knowledge import KnowledgeStore
from domain.knowledge import EmbeddedChunk, KnowledgeDocument, ScoredChunk

INDEX_NAME = "knowledge_vector_index"
FILTER_PATHS = ("agent_id", "document_id")
OVERSAMPLING = 10


def index_definition(dimensions: int) -> dict[str, Any]:
    """The Atlas Vector Search index the adapter needs (the content of docs/atlas-vector-index.json)."""
    return {
        "fields": [
            {"type": "vector", "path": "embedding", "numDimensions": dimensions, "similarity": "cosine"},
            *({"type": "filter", "path": path} for path in FILTER_PATHS),
        ]
    }


def create_atlas_index(
    collection: Collection[Any],
    dimensions: int,
    index_name: str = INDEX_NAME,
    wait_seconds: float | None = 120,
) -> None:
    """Create the vector search index on `collection` (the `knowledge_chunks` collection of MONGODB_DB)."""
    create_vector_search_index(
        collection=collection,
        index_name=index_name,
        dimensions=dimensions,
        path="embedding",
        similarity="cosine",
        filters=list(FILTER_PATHS),
        wait_until_complete=wait_seconds,
    )


class _Unused(Embeddings):
    """Searches pass the query vector; the vector store never embeds anything itself."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("the knowledge service embeds chunks before storing them")

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError("the retriever embeds questions before searching")


def vector_store(collection: Collection[Any], index_name: str = INDEX_NAME) -> MongoDBAtlasVectorSearch:
    return MongoDBAtlasVectorSearch(
        collection,
        _Unused(),
        index_name=index_name,
        text_key="text",
        embedding_key="embedding",
        relevance_score_fn="cosine",
        auto_create_index=False,
    )


def search_options(agent_id: int, min_score: float | None) -> dict[str, Any]:
    """`similarity_search_by_vector` keyword arguments: the agent pre-filter, the cosine kept as metadata."""
    post: list[dict[str, Any]] = [{"$set": {"cosine": {"$subtract": [{"$multiply": ["$score", 2]}, 1]}}}]
    if min_score is not None:
        post.append({"$match": {"cosine": {"$gte": min_score}}})
    return {
        "pre_filter": {"agent_id": {"$eq": agent_id}},
        "post_filter_pipeline": post,
        "oversampling_factor": OVERSAMPLING,
    }


class AtlasKnowledgeStore(KnowledgeStore):
    def __init__(
        self,
        records: MongoKnowledgeRecords,
        chunks: Collection[Any],
        index_name: str = INDEX_NAME,
        *,
        check_interval: float = 1.0,
    ):
        self.records = records
        self._vectors = vector_store(chunks, index_name)
        # agent_id -> (has documents, when checked): one indexed point read per agent per `check_interval`.
        self._check_interval = check_interval
        self._has: dict[int, tuple[bool, float]] = {}

    @property
    def vectorstore(self) -> MongoDBAtlasVectorSearch:
        return self._vectors

    async def load(self) -> None:
        await self.records.ensure_indexes()

    async def add(self, document: KnowledgeDocument, chunks: Sequence[EmbeddedChunk]) -> None:
        await self.records.add(document, chunks)
        self._has[document.agent_id] = (True, time.monotonic())

    async def documents(self, agent_id: int, limit: int, offset: int) -> list[KnowledgeDocument]:
        return await self.records.list(agent_id, limit, offset)

    async def delete(self, agent_id: int, document_id: str) -> bool:
        self._has.pop(agent_id, None)
        return await self.records.delete(agent_id, document_id)

    async def delete_agent(self, agent_id: int) -> int:
        self._has.pop(agent_id, None)
        return await self.records.delete_agent(agent_id)

    async def has_documents(self, agent_id: int) -> bool:
        """A cached indexed point read (another host's change is seen within `check_interval`)."""
        now = time.monotonic()
        cached = self._has.get(agent_id)
        if cached is not None and now - cached[1] < self._check_interval:
            return cached[0]
        found = await self.records.has_documents(agent_id)
        if len(self._has) > 10_000:
            self._has.clear()
        self._has[agent_id] = (found, now)
        return found

    async def stored_dimensions(self) -> int | None:
        return await self.records.stored_dimensions()

    async def search(
        self, agent_id: int, vector: Sequence[float], k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        if k <= 0:
            return []
        try:
            found = await asyncio.to_thread(
                self._vectors.similarity_search_by_vector,
                list(vector),
                k,
                **search_options(agent_id, min_score),
            )
        except PyMongoError as error:
            raise store_unavailable("search the knowledge index", error) from error
        return [
            ScoredChunk(
                d.metadata["document_id"],
                d.metadata["title"],
                d.page_content,
                float(d.metadata["cosine"]),
                int(d.metadata.get("chunk", 0)),
            )
            for d in found
            if d.metadata.get("agent_id") == agent_id  # belt and braces: never another agent's chunk
        ]


def chunks_collection(uri: str, database: str) -> Collection[Any]:
    """A synchronous handle on the chunks collection, for `MongoDBAtlasVectorSearch` and index creation."""
    from pymongo import MongoClient

    client: Any = MongoClient(uri, tz_aware=True, appname="centralita-atlas")
    return client[database][CHUNKS]  # type: ignore[no-any-return]
