"""KnowledgeStore on MongoDB, searched through an in-process index (VECTOR_SEARCH=local).

Layout (what langchain-mongodb's `MongoDBAtlasVectorSearch` reads and writes, so that moving to Atlas needs
only the search index, not a re-ingestion):

* `knowledge_chunks`: one document per chunk — `_id` "<document_id>-<n>", `text`, `embedding` (array of
  doubles), and the metadata as top-level fields `agent_id`, `document_id`, `title`, `chunk`. An Atlas
  pre-filter is therefore `{"agent_id": {"$eq": 7}}` on the index's filter path `agent_id`.
* `knowledge_documents`: one per document (`_id` = document_id, agent_id, title, source, chunks, created_at).
* `knowledge_state`: `{_id: "version", seq}`, bumped after every add or delete.

Writes go chunks first, document last (delete: document first), so a listed document always has its chunks.

Several worker processes: each keeps its own index, and before a search (at most once per `check_interval`
seconds) reads the version document — one point read by `_id`. When another worker changed the knowledge, it
lists the document ids, loads the chunks of documents it lacks and drops the rows of documents gone. This diff
is idempotent and needs no change log, so it heals any missed or reordered update; it works on any MongoDB
deployment (change streams need a replica set).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from adapters.knowledge.local_index import LocalVectorIndex
from adapters.mongodb.documents import bson_time, collection
from adapters.mongodb.errors import store_operation
from application.ports.knowledge import KnowledgeStore
from domain.knowledge import EmbeddedChunk, KnowledgeDocument, ScoredChunk

CHUNKS = "knowledge_chunks"
DOCUMENTS = "knowledge_documents"
STATE = "knowledge_state"
VERSION_ID = "version"
LOAD_BATCH = 2000

Record = dict[str, Any]
log = logging.getLogger("centralita.knowledge")


def chunk_record(chunk: EmbeddedChunk) -> Record:
    return {
        "_id": f"{chunk.document_id}-{chunk.chunk}",
        "text": chunk.text,
        "embedding": list(chunk.embedding),
        "agent_id": chunk.agent_id,
        "document_id": chunk.document_id,
        "title": chunk.title,
        "chunk": chunk.chunk,
    }


def chunk_from(record: Record) -> EmbeddedChunk:
    return EmbeddedChunk(
        record["document_id"],
        record["agent_id"],
        record["title"],
        record["chunk"],
        record["text"],
        tuple(record["embedding"]),
    )


def document_record(document: KnowledgeDocument) -> Record:
    return {
        "_id": document.document_id,
        "agent_id": document.agent_id,
        "title": document.title,
        "source": document.source,
        "chunks": document.chunks,
        "created_at": bson_time(document.created_at),
    }


def document_from(record: Record) -> KnowledgeDocument:
    created = record["created_at"]
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
    return KnowledgeDocument(
        record["_id"], record["agent_id"], record["title"], record.get("source"), record["chunks"], created
    )


class MongoKnowledgeRecords:
    """The knowledge collections, without any search: shared by the local and the Atlas adapters."""

    INDEXES: dict[str, list[IndexModel]] = {
        CHUNKS: [IndexModel([("document_id", ASCENDING)], name="document"), IndexModel("agent_id")],
        DOCUMENTS: [IndexModel([("agent_id", ASCENDING), ("created_at", ASCENDING)], name="agent_created")],
    }

    def __init__(self, db: AsyncDatabase[Any], *, journal: bool = True) -> None:
        self.chunks = collection(db, CHUNKS, journal=journal)
        self.documents = collection(db, DOCUMENTS, journal=journal)
        self.state = collection(db, STATE, journal=journal)

    @store_operation("create the knowledge indexes")
    async def ensure_indexes(self) -> None:
        await self.chunks.create_indexes(self.INDEXES[CHUNKS])
        await self.documents.create_indexes(self.INDEXES[DOCUMENTS])

    @store_operation("store a document")
    async def add(self, document: KnowledgeDocument, chunks: Sequence[EmbeddedChunk]) -> None:
        if chunks:
            await self.chunks.insert_many([chunk_record(c) for c in chunks], ordered=True)
        await self.documents.insert_one(document_record(document))
        await self.bump()

    @store_operation("list documents")
    async def list(self, agent_id: int, limit: int, offset: int) -> list[KnowledgeDocument]:
        cursor = (
            self.documents.find({"agent_id": agent_id})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return [document_from(r) async for r in cursor]

    @store_operation("delete a document")
    async def delete(self, agent_id: int, document_id: str) -> bool:
        result = await self.documents.delete_one({"_id": document_id, "agent_id": agent_id})
        if result.deleted_count == 0:
            return False
        await self.chunks.delete_many({"document_id": document_id})
        await self.bump()
        return True

    @store_operation("delete an agent's documents")
    async def delete_agent(self, agent_id: int) -> int:
        result = await self.documents.delete_many({"agent_id": agent_id})
        await self.chunks.delete_many({"agent_id": agent_id})
        await self.bump()
        return int(result.deleted_count)

    @store_operation("read the knowledge version")
    async def version(self) -> int:
        record = await self.state.find_one({"_id": VERSION_ID})
        return int(record["seq"]) if record else 0

    async def bump(self) -> None:
        await self.state.update_one({"_id": VERSION_ID}, {"$inc": {"seq": 1}}, upsert=True)

    @store_operation("list document ids")
    async def document_ids(self) -> set[str]:
        return {r["_id"] async for r in self.documents.find({}, {"_id": 1})}

    @store_operation("load chunks")
    async def chunks_of(self, document_ids: Sequence[str]) -> builtins.list[EmbeddedChunk]:
        found: builtins.list[EmbeddedChunk] = []  # `list` in this class is the method above
        for start in range(0, len(document_ids), LOAD_BATCH):
            batch = list(document_ids[start : start + LOAD_BATCH])
            cursor = self.chunks.find({"document_id": {"$in": batch}}).sort("_id", ASCENDING)
            found += [chunk_from(r) async for r in cursor]
        return found

    @store_operation("check an agent's documents")
    async def has_documents(self, agent_id: int) -> bool:
        return await self.documents.find_one({"agent_id": agent_id}, {"_id": 1}) is not None

    @store_operation("read a stored vector")
    async def stored_dimensions(self) -> int | None:
        record = await self.chunks.find_one({}, {"embedding": 1})
        return len(record["embedding"]) if record else None


class MongoKnowledgeStore(KnowledgeStore):
    """Chunks in MongoDB, searched in an in-process exact index kept in step with other workers."""

    def __init__(self, db: AsyncDatabase[Any], *, check_interval: float = 1.0, journal: bool = True) -> None:
        self.records = MongoKnowledgeRecords(db, journal=journal)
        self._index = LocalVectorIndex()
        self._check_interval = check_interval
        self._version = -1
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        await self.records.ensure_indexes()
        self._index.clear()
        self._version = -1
        await self._refresh()
        log.info("knowledge index: %d chunks loaded", len(self._index))

    # Writes hold the lock a refresh holds, so a refresh never re-adds what this worker just deleted.
    async def add(self, document: KnowledgeDocument, chunks: Sequence[EmbeddedChunk]) -> None:
        async with self._lock:
            await self.records.add(document, chunks)
            self._index.add(chunks)

    async def documents(self, agent_id: int, limit: int, offset: int) -> list[KnowledgeDocument]:
        return await self.records.list(agent_id, limit, offset)

    async def delete(self, agent_id: int, document_id: str) -> bool:
        async with self._lock:
            deleted = await self.records.delete(agent_id, document_id)
            self._index.remove([document_id])
        return deleted

    async def delete_agent(self, agent_id: int) -> int:
        async with self._lock:
            count = await self.records.delete_agent(agent_id)
            self._index.remove_agent(agent_id)
        return count

    async def search(
        self, agent_id: int, vector: Sequence[float], k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        await self.sync()
        return self._index.search(agent_id, vector, k, min_score)

    async def has_documents(self, agent_id: int) -> bool:
        # The same catch-up as a search (a point read at most every `check_interval`, usually none), so a
        # document added through another worker is seen here as soon as a search would find it.
        await self.sync()
        return self._index.has(agent_id)

    async def stored_dimensions(self) -> int | None:
        return await self.records.stored_dimensions()

    async def sync(self) -> None:
        """Catch up with changes made by other workers (a point read when nothing changed)."""
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return
        self._checked_at = now
        if await self.records.version() != self._version:
            await self._refresh()

    async def _refresh(self) -> None:
        async with self._lock:
            version = await self.records.version()  # read first: a change during the diff triggers another
            if version == self._version:
                return
            stored = await self.records.document_ids()
            held = self._index.document_ids
            self._index.remove(held - stored)
            missing = sorted(stored - held)
            if missing:
                self._index.add(await self.records.chunks_of(missing))
            self._version = version
