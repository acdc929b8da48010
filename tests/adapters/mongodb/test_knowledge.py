"""MongoDB + local index (VECTOR_SEARCH=local) on the embedded SecantusDB: the contract, the stored layout,
restarts, and two workers sharing one database."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.knowledge import CHUNKS, DOCUMENTS, MongoKnowledgeStore
from tests.contracts.knowledge import E1, E2, KnowledgeStoreContract, document, near


async def loaded(db: AsyncDatabase[Any], check_interval: float = 0.0) -> MongoKnowledgeStore:
    store = MongoKnowledgeStore(db, check_interval=check_interval)
    await store.load()
    return store


class TestMongoKnowledgeStore(KnowledgeStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[Any]) -> MongoKnowledgeStore:
        return await loaded(mongo_db)


async def test_chunks_are_stored_in_the_layout_of_langchain_mongodb(mongo_db: AsyncDatabase[Any]) -> None:
    store = await loaded(mongo_db)
    doc, chunks = document(7, "Envíos", [E1, E2], ["primer trozo", "segundo trozo"])
    await store.add(doc, chunks)
    record = await mongo_db[CHUNKS].find_one({"chunk": 1})
    assert record == {
        "_id": f"{doc.document_id}-1",
        "text": "segundo trozo",
        "embedding": list(E2),
        "agent_id": 7,
        "document_id": doc.document_id,
        "title": "Envíos",
        "chunk": 1,
    }
    stored = await mongo_db[DOCUMENTS].find_one({"_id": doc.document_id})
    assert stored is not None and stored["agent_id"] == 7 and stored["chunks"] == 2


async def test_a_restarted_worker_finds_what_was_stored_and_not_what_was_deleted(
    mongo_db: AsyncDatabase[Any],
) -> None:
    first = await loaded(mongo_db)
    kept, kept_chunks = document(1, "kept", [near(E1, E2, 0.8)])
    gone, gone_chunks = document(1, "gone", [E1])
    await first.add(kept, kept_chunks)
    await first.add(gone, gone_chunks)
    await first.delete(1, gone.document_id)

    restarted = await loaded(mongo_db)
    [found] = await restarted.search(1, E1, 5)
    assert found.document_id == kept.document_id and found.score == pytest.approx(0.8, abs=1e-4)
    assert await restarted.stored_dimensions() == 4


async def test_a_document_added_through_one_worker_is_found_by_another(mongo_db: AsyncDatabase[Any]) -> None:
    worker_a, worker_b = await loaded(mongo_db), await loaded(mongo_db)
    assert await worker_b.search(1, E1, 4) == []  # b's index is loaded and empty
    doc, chunks = document(1, "new", [E1])
    await worker_a.add(doc, chunks)
    assert [c.document_id for c in await worker_b.search(1, E1, 4)] == [doc.document_id]
    await worker_a.delete(1, doc.document_id)
    assert await worker_b.search(1, E1, 4) == []
    await worker_b.add(*document(2, "other", [E1]))
    await worker_a.delete_agent(2)
    assert await worker_b.search(2, E1, 4) == []


async def test_workers_check_for_changes_at_most_once_per_interval(mongo_db: AsyncDatabase[Any]) -> None:
    worker_a, worker_b = await loaded(mongo_db), await loaded(mongo_db, check_interval=3600)
    await worker_b.search(1, E1, 4)
    await worker_a.add(*document(1, "new", [E1]))
    assert await worker_b.search(1, E1, 4) == []  # not checked yet: the next check is an hour away
    await loaded(mongo_db)  # a fresh worker sees it at once
    assert len(await (await loaded(mongo_db)).search(1, E1, 4)) == 1
