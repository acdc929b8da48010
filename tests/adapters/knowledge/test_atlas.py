"""The Atlas adapter: offline, the `$vectorSearch` pipeline langchain-mongodb builds for it; against real Atlas
(MONGODB_ATLAS_TEST_URI) the knowledge contract and LangChain's VectorStore suite on the same collection."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStore
from langchain_mongodb import MongoDBAtlasVectorSearch
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from adapters.knowledge.atlas import INDEX_NAME, AtlasKnowledgeStore, create_atlas_index, index_definition
from adapters.mongodb.knowledge import CHUNKS, MongoKnowledgeRecords
from tests.contracts.knowledge import E1, KnowledgeStoreContract

DOCS_INDEX = Path(__file__).resolve().parents[3] / "docs" / "atlas-vector-index.json"


class _Client:
    def append_metadata(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Database:
    client = _Client()


class RecordingCollection:
    """Enough of a pymongo Collection for MongoDBAtlasVectorSearch: records pipelines, answers canned rows."""

    database = _Database()
    name = CHUNKS

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.pipelines: list[list[dict[str, Any]]] = []

    def aggregate(self, pipeline: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        self.pipelines.append(pipeline)
        return iter([dict(row) for row in self.rows])


def offline_store(rows: list[dict[str, Any]]) -> tuple[AtlasKnowledgeStore, RecordingCollection]:
    collection = RecordingCollection(rows)
    return AtlasKnowledgeStore(records=None, chunks=collection), collection  # type: ignore[arg-type]


async def test_search_prefilters_on_the_agent_and_reports_cosine() -> None:
    row = {
        "_id": "d1-0",
        "text": "Devoluciones en 30 días",
        "agent_id": 7,
        "document_id": "d1",
        "title": "Devoluciones",
        "chunk": 0,
        "cosine": 0.8,
        "score": 0.9,
    }
    store, collection = offline_store([row])
    [found] = await store.search(7, [0.1, 0.2, 0.3], 3, min_score=0.5)
    assert (found.document_id, found.title, found.text, found.chunk, found.score) == (
        "d1",
        "Devoluciones",
        "Devoluciones en 30 días",
        0,
        0.8,
    )
    [pipeline] = collection.pipelines
    assert pipeline[0] == {
        "$vectorSearch": {
            "index": INDEX_NAME,
            "path": "embedding",
            "queryVector": [0.1, 0.2, 0.3],
            "numCandidates": 30,
            "limit": 3,
            "filter": {"agent_id": {"$eq": 7}},
        }
    }
    assert pipeline[1] == {"$set": {"score": {"$meta": "vectorSearchScore"}}}
    assert pipeline[2] == {"$project": {"embedding": 0}}
    # Atlas's cosine score is (1 + cos) / 2: turned back into the cosine, then filtered by min_score.
    assert pipeline[3] == {"$set": {"cosine": {"$subtract": [{"$multiply": ["$score", 2]}, 1]}}}
    assert pipeline[4] == {"$match": {"cosine": {"$gte": 0.5}}}


async def test_another_agents_row_never_leaves_the_adapter() -> None:
    row = {
        "_id": "x-0",
        "text": "t",
        "agent_id": 8,
        "document_id": "x",
        "title": "t",
        "chunk": 0,
        "cosine": 1.0,
        "score": 1.0,
    }
    store, collection = offline_store([row])
    assert await store.search(7, [1.0], 4) == []
    assert await store.search(7, [1.0], 0) == []
    assert len(collection.pipelines) == 1


def test_the_documented_index_definition_is_the_one_the_adapter_needs() -> None:
    documented = json.loads(DOCS_INDEX.read_text(encoding="utf-8"))
    assert documented["name"] == INDEX_NAME
    assert documented["definition"] == index_definition(
        documented["definition"]["fields"][0]["numDimensions"]
    )
    assert {"type": "filter", "path": "agent_id"} in documented["definition"]["fields"]


# --- against real Atlas ------------------------------------------------------------------------------------

ATLAS_URI = os.environ.get("MONGODB_ATLAS_TEST_URI")
atlas = pytest.mark.skipif(not ATLAS_URI, reason="MONGODB_ATLAS_TEST_URI is not set")


@pytest.fixture(scope="module")
def atlas_db_name() -> Iterator[str]:
    from pymongo import MongoClient

    name = f"centralita_test_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(ATLAS_URI)
    client[name].create_collection(CHUNKS)
    create_atlas_index(client[name][CHUNKS], 4, wait_seconds=300)
    yield name
    client.drop_database(name)
    client.close()


@pytest.mark.atlas_live
@atlas
class TestAtlasKnowledgeStore(KnowledgeStoreContract):
    @pytest.fixture
    async def store(self, atlas_db_name: str) -> AsyncIterator[AtlasKnowledgeStore]:
        from pymongo import AsyncMongoClient, MongoClient

        async_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ATLAS_URI)
        sync_client: MongoClient[dict[str, Any]] = MongoClient(ATLAS_URI)
        records = MongoKnowledgeRecords(async_client[atlas_db_name])
        for name in ("knowledge_chunks", "knowledge_documents", "knowledge_state"):
            await async_client[atlas_db_name][name].delete_many({})
        store = AtlasKnowledgeStore(records, sync_client[atlas_db_name][CHUNKS])
        await store.load()
        yield store
        await async_client.close()
        sync_client.close()

    async def settle(self) -> None:
        await asyncio.sleep(3)  # Atlas Search indexes writes asynchronously

    async def test_search_finds_the_agents_chunks(self, store: AtlasKnowledgeStore) -> None:
        await self.add(store, 1, "one", [E1])
        await self.settle()
        assert len(await store.search(1, E1, 1)) == 1


@pytest.mark.atlas_live
@atlas
class TestAtlasVectorStoreStandard(VectorStoreIntegrationTests):
    """LangChain's own suite on MongoDBAtlasVectorSearch over a collection in our layout and index."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(ATLAS_URI)
        collection = client["centralita_langchain_tests"][CHUNKS]
        collection.delete_many({})
        store = MongoDBAtlasVectorSearch(
            collection, self.get_embeddings(), index_name=INDEX_NAME, auto_create_index=True, dimensions=6
        )
        yield store
        collection.delete_many({})
        client.close()

    @staticmethod
    def get_embeddings() -> DeterministicFakeEmbedding:
        return DeterministicFakeEmbedding(size=6)
