"""Knowledge management: what operators load for an agent, and how a question finds it.

Adding a document: check the agent, read the file (PDF, Markdown, text) off the event loop, split the text
into chunks, embed them as passages, store the document with its chunks. Retrieval embeds the question as a
query and asks the store for the agent's closest chunks; their sources are shaped by application/sources.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from application.audit import Auditor
from application.paging import Page
from application.ports.agents import AgentRepository
from application.ports.embeddings import Embedder
from application.ports.knowledge import (
    DocumentReader,
    KnowledgeRetriever,
    KnowledgeStore,
    PlainTextRenderer,
    TextSplitter,
)
from application.sources import sources_of
from domain.audit import Actor, AuditAction, document_entry
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.errors import AgentNotFound, DocumentNotFound, DocumentTooLarge
from domain.knowledge import (
    EmbeddedChunk,
    KnowledgeDocument,
    ScoredChunk,
    Source,
    cut_at_word,
    new_document_id,
    validate_source,
    validate_text,
    validate_title,
)
from domain.rules import MAX_TITLE_CHARS

log = logging.getLogger("centralita.knowledge")

EMBED_BATCH = 64


class EmbeddingMismatch(RuntimeError):
    """The stored vectors were made by another embedder than the configured one; the message says what to do."""


def passage_text(title: str, chunk: str) -> str:
    """What a chunk is embedded as: its document's title gives a short chunk its topic."""
    return f"{title}\n\n{chunk}"


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    max_bytes: int = 10 * 1024 * 1024


class KnowledgeService:
    """Adds, lists and deletes an agent's documents."""

    def __init__(
        self,
        agents: AgentRepository,
        store: KnowledgeStore,
        embedder: Embedder,
        splitter: TextSplitter,
        reader: DocumentReader,
        limits: DocumentLimits,
        clock: Callable[[], datetime] = utc_now,
        audit: Auditor | None = None,
    ) -> None:
        self._audit = audit  # records each document added or deleted (application/audit.py)
        self._agents = agents
        self._store = store
        self._embedder = embedder
        self._splitter = splitter
        self._reader = reader
        self._limits = limits
        self._clock = clock

    @property
    def limits(self) -> DocumentLimits:
        return self._limits

    async def add_text(
        self, agent_id: int, title: str, text: str, source: str | None = None, actor: Actor | None = None
    ) -> KnowledgeDocument:
        """Split, embed and store a text for an agent."""
        title, source = validate_title(title), validate_source(source)
        if len(text.encode()) > self._limits.max_bytes:
            raise DocumentTooLarge(self._limits.max_bytes)
        text = validate_text(text)
        await self._require_agent(agent_id)
        pieces = self._splitter.split(text)
        vectors: list[list[float]] = []
        for start in range(0, len(pieces), EMBED_BATCH):
            batch = pieces[start : start + EMBED_BATCH]
            vectors += await self._embedder.embed_documents([passage_text(title, p) for p in batch])
        document = KnowledgeDocument(new_document_id(), agent_id, title, source, len(pieces), self._clock())
        chunks = [
            EmbeddedChunk(document.document_id, agent_id, title, number, piece, tuple(vector))
            for number, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))
        ]
        await self._store.add(document, chunks)
        log.info("agent %s: document %s added (%d chunks)", agent_id, document.document_id, len(chunks))
        await self._record(AuditAction.DOCUMENT_ADDED, agent_id, document.document_id, document, actor)
        return document

    async def add_file(
        self,
        agent_id: int,
        filename: str,
        media_type: str | None,
        data: bytes,
        title: str | None = None,
        source: str | None = None,
        actor: Actor | None = None,
    ) -> KnowledgeDocument:
        """Read an uploaded file (.txt, .md, .pdf) and add its text.

        Without a `title`, the file's own (a Markdown heading, a PDF's metadata title) or else its name.
        """
        if len(data) > self._limits.max_bytes:
            raise DocumentTooLarge(self._limits.max_bytes)
        await self._require_agent(agent_id)
        read = await asyncio.to_thread(self._reader.read, filename, media_type, data)
        own_title = cut_at_word(" ".join(read.title.split()), MAX_TITLE_CHARS) if read.title else None
        title = title or own_title or _stem(filename)
        return await self.add_text(agent_id, title, read.text, source or filename, actor)

    async def list(self, agent_id: int, page: Page) -> list[KnowledgeDocument]:
        await self._require_agent(agent_id)
        return await self._store.documents(agent_id, page.limit, page.offset)

    async def delete(self, agent_id: int, document_id: str, actor: Actor | None = None) -> None:
        """Remove a document; its chunks leave the index too."""
        await self._require_agent(agent_id)
        if not await self._store.delete(agent_id, document_id):
            raise DocumentNotFound(document_id)
        log.info("agent %s: document %s deleted", agent_id, document_id)
        await self._record(AuditAction.DOCUMENT_DELETED, agent_id, document_id, None, actor)

    async def check_embedder(self) -> None:
        """At startup: refuse to serve when stored vectors do not fit the configured embedder."""
        stored = await self._store.stored_dimensions()
        if stored is not None and stored != self._embedder.dimensions:
            raise EmbeddingMismatch(
                f"The knowledge base holds {stored}-dimensional vectors but EMBEDDINGS_MODEL="
                f"{self._embedder.name} makes {self._embedder.dimensions}-dimensional ones. Set "
                "EMBEDDINGS_MODEL back to the embedder the documents were loaded with, or load the documents "
                'again with the new one (docs/knowledge.md, "Changing the embedder").'
            )

    async def _record(
        self,
        action: AuditAction,
        agent_id: int,
        document_id: str,
        document: KnowledgeDocument | None,
        actor: Actor | None,
    ) -> None:
        if self._audit is not None:
            entry = document_entry(action, agent_id, document_id, document, actor, self._audit.now())
            await self._audit.record(entry)

    async def _require_agent(self, agent_id: int) -> None:
        if await self._agents.get(validate_agent_id(agent_id)) is None:
            raise AgentNotFound(agent_id)


class EmbeddingRetriever(KnowledgeRetriever):
    """Embeds the question as a query and asks the store for the agent's closest chunks.

    Nothing is embedded for an agent without documents (the store answers that from memory) or with k = 0.
    """

    def __init__(self, store: KnowledgeStore, embedder: Embedder, renderer: PlainTextRenderer) -> None:
        self._store = store
        self._embedder = embedder
        self._renderer = renderer

    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        # The query embedding is most of a turn's CPU (docs/performance.md): skip it when it cannot matter.
        if k <= 0 or not query.strip() or not await self._store.has_documents(agent_id):
            return []
        vector = await self._embedder.embed_query(query)
        return await self._store.search(agent_id, vector, k, min_score)

    def sources(self, chunks: Sequence[ScoredChunk]) -> tuple[Source, ...]:
        return sources_of(chunks, self._renderer)


def _stem(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem or "document"
