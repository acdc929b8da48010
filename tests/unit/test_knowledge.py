"""The knowledge use cases on fakes: ingestion steps, limits, the embedder check, retrieval, agent deletion."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.knowledge.files import FileReader, RecursiveSplitter
from adapters.knowledge.markdown import MarkdownRenderer
from adapters.knowledge.memory import MemoryKnowledgeStore
from adapters.memory.agents import MemoryAgentRepository
from application.agents import AgentService
from application.knowledge import (
    DocumentLimits,
    EmbeddingMismatch,
    EmbeddingRetriever,
    KnowledgeService,
    passage_text,
)
from application.paging import Page
from application.ports.embeddings import Embedder
from domain.errors import AgentNotFound, DocumentNotFound, DocumentTooLarge, EmptyDocument, InvalidDocument
from tests.contracts.knowledge import document


class KeywordEmbedder(Embedder):
    """Counts a few words: enough to rank by topic; records what it embedded."""

    WORDS = ("return", "router", "roaming")

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.passages: list[str] = []

    @property
    def name(self) -> str:
        return "keywords"

    @property
    def dimensions(self) -> int:
        return len(self.WORDS) + 1

    def _vector(self, text: str) -> list[float]:
        return [float(text.lower().count(w)) for w in self.WORDS] + [0.1]

    async def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self._vector(text)

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.passages += texts
        return [self._vector(t) for t in texts]


@pytest.fixture
async def setup() -> tuple[KnowledgeService, EmbeddingRetriever, KeywordEmbedder, MemoryKnowledgeStore]:
    agents = MemoryAgentRepository()
    await AgentService(agents).ensure_default()
    store, embedder = MemoryKnowledgeStore(), KeywordEmbedder()
    service = KnowledgeService(
        agents, store, embedder, RecursiveSplitter(200, 20), FileReader(), DocumentLimits(max_bytes=2000)
    )
    return service, EmbeddingRetriever(store, embedder, MarkdownRenderer()), embedder, store


async def test_a_document_is_split_embedded_with_its_title_and_found(setup) -> None:  # type: ignore[no-untyped-def]
    service, retriever, embedder, _ = setup
    text = "How to return a phone. " * 20
    doc = await service.add_text(1, "  Returns  policy ", text, source=" faq ")
    assert doc.title == "Returns policy" and doc.source == "faq" and doc.chunks == len(embedder.passages) > 1
    assert embedder.passages[0].startswith(passage_text("Returns policy", ""))
    await service.add_text(1, "Router", "Set up the router.")
    found = await retriever.retrieve(1, "router light", 2)
    assert found[0].title == "Router" and 0 < found[0].score <= 1
    assert await service.list(1, Page()) == [doc, (await service.list(1, Page(1, 1)))[0]]


async def test_limits_and_bad_documents_are_refused(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, embedder, _ = setup
    with pytest.raises(DocumentTooLarge):
        await service.add_text(1, "big", "é" * 1001)  # 2002 bytes
    with pytest.raises(DocumentTooLarge):
        await service.add_file(1, "big.txt", "text/plain", b"a" * 2001)
    with pytest.raises(EmptyDocument):
        await service.add_text(1, "blank", " \n\x00 ")
    with pytest.raises(InvalidDocument):
        await service.add_text(1, "   ", "text")
    with pytest.raises(AgentNotFound):
        await service.add_text(9, "t", "text")
    assert embedder.passages == []


async def test_delete_removes_the_document_from_retrieval(setup) -> None:  # type: ignore[no-untyped-def]
    service, retriever, _, _ = setup
    doc = await service.add_text(1, "Router", "router router")
    await service.delete(1, doc.document_id)
    assert await retriever.retrieve(1, "router", 4) == []
    with pytest.raises(DocumentNotFound):
        await service.delete(1, doc.document_id)


async def test_retrieval_without_k_or_question_embeds_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    _, retriever, embedder, _ = setup
    assert await retriever.retrieve(1, "router", 0) == []
    assert await retriever.retrieve(1, "   ", 4) == []
    assert embedder.queries == []


async def test_startup_refuses_vectors_of_another_dimension(setup) -> None:  # type: ignore[no-untyped-def]
    service, _, _, store = setup
    await service.check_embedder()  # empty base: fine
    await store.add(*document(1, "old", [(1.0, 0.0)]))
    with pytest.raises(EmbeddingMismatch, match=r"2-dimensional.*EMBEDDINGS_MODEL=keywords.*4-dimensional"):
        await service.check_embedder()


async def test_deleting_an_agent_deletes_its_knowledge() -> None:
    agents, store = MemoryAgentRepository(), MemoryKnowledgeStore()
    service = AgentService(agents, store)
    await service.ensure_default()
    await store.add(*document(1, "mine", [(1.0, 0.0)]))
    await service.delete(1)
    assert await store.documents(1, 100, 0) == []
    assert await store.search(1, (1.0, 0.0), 4) == []


async def test_an_agent_without_documents_costs_no_query_embedding(setup) -> None:  # type: ignore[no-untyped-def]
    service, retriever, embedder, _ = setup
    assert await retriever.retrieve(1, "router", 4) == []
    assert embedder.queries == []
    doc = await service.add_text(1, "Router", "router router")
    assert [c.document_id for c in await retriever.retrieve(1, "router", 4)] == [doc.document_id]
    assert embedder.queries == ["router"]
    await service.delete(1, doc.document_id)
    assert await retriever.retrieve(1, "router again", 4) == []
    assert embedder.queries == ["router"]
