"""The contract every KnowledgeStore keeps (memory, MongoDB + local index, Atlas).

Vectors are hand-made 4-dimensional ones so that the expected ranking and cosine scores are exact. An adapter's
test module subclasses `KnowledgeStoreContract` and provides a `store` fixture (an empty, loaded store) and,
when its search is eventually consistent (Atlas), overrides `settle`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.knowledge import KnowledgeStore
from domain.knowledge import EmbeddedChunk, KnowledgeDocument

T0 = datetime(2026, 1, 1, tzinfo=UTC)

E1 = (1.0, 0.0, 0.0, 0.0)
E2 = (0.0, 1.0, 0.0, 0.0)
E3 = (0.0, 0.0, 1.0, 0.0)


def near(axis: tuple[float, ...], other: tuple[float, ...], weight: float) -> tuple[float, ...]:
    """A vector whose cosine with `axis` is `weight` (for unit orthogonal `axis` and `other`)."""
    rest = math.sqrt(1 - weight * weight)
    return tuple(weight * a + rest * o for a, o in zip(axis, other, strict=True))


_counter = iter(range(1_000_000))


def document(
    agent_id: int, title: str, vectors: list[tuple[float, ...]], texts: list[str] | None = None
) -> tuple[KnowledgeDocument, list[EmbeddedChunk]]:
    n = next(_counter)
    document_id = f"doc{n:04d}{title.replace(' ', '')}"
    texts = texts or [f"{title} part {i}" for i in range(len(vectors))]
    doc = KnowledgeDocument(
        document_id, agent_id, title, f"{title}.md", len(vectors), T0 + timedelta(seconds=n)
    )
    chunks = [
        EmbeddedChunk(document_id, agent_id, title, i, text, vector)
        for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
    ]
    return doc, chunks


class KnowledgeStoreContract:
    @pytest.fixture
    def store(self) -> KnowledgeStore:
        raise NotImplementedError

    async def settle(self) -> None:
        """Wait until writes are searchable (immediate everywhere but on Atlas)."""

    async def add(self, store: KnowledgeStore, agent_id: int, title: str, vectors: list[tuple[float, ...]]):
        doc, chunks = document(agent_id, title, vectors)
        await store.add(doc, chunks)
        return doc

    async def test_an_empty_base_finds_nothing(self, store: KnowledgeStore) -> None:
        assert await store.search(1, E1, 4) == []
        assert await store.documents(1, 100, 0) == []
        assert await store.stored_dimensions() is None

    async def test_added_chunks_are_found_best_first_with_cosine_scores(self, store: KnowledgeStore) -> None:
        doc_a = await self.add(store, 1, "returns", [near(E1, E2, 0.9), near(E1, E3, 0.5)])
        doc_b = await self.add(store, 1, "shipping", [near(E1, E2, 0.7), E2])
        await self.settle()
        found = await store.search(1, E1, 4)
        assert [(c.document_id, c.chunk) for c in found] == [
            (doc_a.document_id, 0),
            (doc_b.document_id, 0),
            (doc_a.document_id, 1),
            (doc_b.document_id, 1),
        ]
        assert [round(c.score, 3) for c in found] == [0.9, 0.7, 0.5, 0.0]
        assert found[0].title == "returns" and found[0].text == "returns part 0"
        assert await store.stored_dimensions() == 4

    async def test_scores_ignore_vector_length(self, store: KnowledgeStore) -> None:
        await self.add(store, 1, "long", [tuple(3 * x for x in near(E1, E2, 0.6))])
        await self.settle()
        [found] = await store.search(1, tuple(5 * x for x in E1), 1)
        assert found.score == pytest.approx(0.6, abs=1e-3)

    async def test_k_bounds_the_chunks(self, store: KnowledgeStore) -> None:
        await self.add(store, 1, "many", [near(E1, E2, w / 10) for w in range(1, 8)])
        await self.settle()
        assert len(await store.search(1, E1, 3)) == 3
        assert [round(c.score, 3) for c in await store.search(1, E1, 2)] == [0.7, 0.6]
        assert len(await store.search(1, E1, 50)) == 7

    async def test_min_score_drops_weaker_chunks(self, store: KnowledgeStore) -> None:
        await self.add(store, 1, "mixed", [near(E1, E2, 0.8), near(E1, E2, 0.4), near(E1, E2, 0.2)])
        await self.settle()
        assert [round(c.score, 3) for c in await store.search(1, E1, 4, min_score=0.35)] == [0.8, 0.4]
        assert await store.search(1, E1, 4, min_score=0.95) == []

    async def test_an_agent_only_finds_its_own_documents(self, store: KnowledgeStore) -> None:
        mine = await self.add(store, 1, "mine", [E1])
        theirs = await self.add(store, 2, "theirs", [E1])
        await self.settle()
        assert [c.document_id for c in await store.search(1, E1, 10)] == [mine.document_id]
        assert [c.document_id for c in await store.search(2, E1, 10)] == [theirs.document_id]
        assert await store.search(3, E1, 10) == []
        assert [d.document_id for d in await store.documents(2, 100, 0)] == [theirs.document_id]

    async def test_documents_are_listed_oldest_first_and_paged(self, store: KnowledgeStore) -> None:
        docs = [await self.add(store, 1, f"doc {i}", [E1, E2]) for i in range(3)]
        listed = await store.documents(1, 100, 0)
        assert listed == docs
        assert listed[0].chunks == 2 and listed[0].source == "doc 0.md"
        assert await store.documents(1, 1, 1) == [docs[1]]

    async def test_a_deleted_document_is_never_found_again(self, store: KnowledgeStore) -> None:
        gone = await self.add(store, 1, "gone", [E1, near(E1, E2, 0.9)])
        kept = await self.add(store, 1, "kept", [near(E1, E2, 0.5)])
        await self.settle()
        assert await store.delete(1, gone.document_id) is True
        await self.settle()
        assert [c.document_id for c in await store.search(1, E1, 10)] == [kept.document_id]
        assert await store.documents(1, 100, 0) == [kept]
        assert await store.delete(1, gone.document_id) is False

    async def test_an_agent_cannot_delete_another_agents_document(self, store: KnowledgeStore) -> None:
        theirs = await self.add(store, 2, "theirs", [E1])
        assert await store.delete(1, theirs.document_id) is False
        await self.settle()
        assert [c.document_id for c in await store.search(2, E1, 1)] == [theirs.document_id]

    async def test_deleting_an_agents_knowledge_leaves_others(self, store: KnowledgeStore) -> None:
        await self.add(store, 1, "a", [E1])
        await self.add(store, 1, "b", [E2])
        other = await self.add(store, 2, "c", [E1])
        assert await store.delete_agent(1) == 2
        await self.settle()
        assert await store.search(1, E1, 10) == []
        assert await store.documents(1, 100, 0) == []
        assert [c.document_id for c in await store.search(2, E1, 10)] == [other.document_id]

    async def test_has_documents_follows_adds_and_deletes(self, store: KnowledgeStore) -> None:
        assert await store.has_documents(1) is False
        first = await self.add(store, 1, "first", [E1])
        second = await self.add(store, 1, "second", [E2])
        await self.add(store, 2, "other", [E1])
        await self.settle()
        assert await store.has_documents(1) is True
        assert await store.has_documents(2) is True
        assert await store.has_documents(3) is False
        assert await store.delete(1, first.document_id) is True
        await self.settle()
        assert await store.has_documents(1) is True  # one document left
        assert await store.delete(1, second.document_id) is True
        await self.settle()
        assert await store.has_documents(1) is False
        assert await store.delete_agent(2) == 1
        await self.settle()
        assert await store.has_documents(2) is False
