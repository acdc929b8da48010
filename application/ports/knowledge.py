"""Ports: the knowledge an agent answers from — kept, searched, read from files and split into chunks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.knowledge import EmbeddedChunk, FileText, KnowledgeDocument, ScoredChunk, Source, TextBlock


class KnowledgeRetriever(ABC):
    """Finds the chunks of one agent's knowledge closest to a question, and names them as sources."""

    @abstractmethod
    async def retrieve(
        self, agent_id: int, query: str, k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        """At most `k` chunks of agent `agent_id` only, best first, none scoring below `min_score`."""

    @abstractmethod
    def sources(self, chunks: Sequence[ScoredChunk]) -> tuple[Source, ...]:
        """The sources shown under an answer drawn from `chunks`: one per document, in plain text."""


class KnowledgeStore(ABC):
    """Keeps each agent's documents and their embedded chunks, and searches them by vector.

    Scores are cosine similarities in [-1, 1]. An agent only ever finds its own chunks. A document and its
    chunks appear together: `search` never returns a chunk of a document `documents` does not list.
    """

    @abstractmethod
    async def load(self) -> None:
        """Prepare for serving (at startup): build in-process indexes from what is stored; idempotent."""

    @abstractmethod
    async def add(self, document: KnowledgeDocument, chunks: Sequence[EmbeddedChunk]) -> None:
        """Store a new document with its chunks (all of the same agent and vector dimension)."""

    @abstractmethod
    async def documents(self, agent_id: int, limit: int, offset: int) -> list[KnowledgeDocument]:
        """The agent's documents, oldest first."""

    @abstractmethod
    async def delete(self, agent_id: int, document_id: str) -> bool:
        """Remove a document of this agent and all its chunks; False when the agent has no such document."""

    @abstractmethod
    async def delete_agent(self, agent_id: int) -> int:
        """Remove every document of an agent with its chunks; the number of documents removed."""

    @abstractmethod
    async def search(
        self, agent_id: int, vector: Sequence[float], k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        """At most `k` chunks of agent `agent_id`, most similar to `vector` first, none below `min_score`."""

    @abstractmethod
    async def has_documents(self, agent_id: int) -> bool:
        """Whether the agent has any searchable chunk — cheap (in-process) enough to ask on every turn.

        False lets the retriever skip the query embedding. It may err towards True (a search then finds
        nothing), never towards False for an agent whose chunks this store's `search` would return.
        """

    @abstractmethod
    async def stored_dimensions(self) -> int | None:
        """The dimension of the stored vectors, or None while nothing is stored."""


class DocumentReader(ABC):
    """Turns an uploaded file into text (CPU-bound: call it off the event loop)."""

    @abstractmethod
    def read(self, filename: str, media_type: str | None, data: bytes) -> FileText:
        """The file's text and its own title (a Markdown heading, a PDF's metadata title) if it has one;
        raises UnsupportedDocumentType for a type it cannot read."""


class PlainTextRenderer(ABC):
    """Renders a chunk's text (Markdown, or plain text, which reads as Markdown) to plain-text blocks."""

    @abstractmethod
    def blocks(self, text: str) -> Sequence[TextBlock]:
        """The blocks in order, without markup: no heading marks, emphasis, link targets, list bullets, code
        fences, table pipes or HTML tags."""


class TextSplitter(ABC):
    """Cuts a document's text into chunks small enough to embed and to quote in a prompt."""

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """The chunks, in document order, none empty."""
