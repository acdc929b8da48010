"""An exact in-process vector index: one L2-normalised float32 matrix per agent, searched by a dot product.

Copy-on-write: adding or removing a document builds the agent's new matrix and swaps it in, so a search never
sees half an update and never rebuilds anything (unlike langchain-core's InMemoryVectorStore). At 10,000
896-dimensional chunks a search is one 35 MB matrix-vector product plus an `argpartition`: about 1.5 ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from domain.knowledge import EmbeddedChunk, ScoredChunk

Matrix = NDArray[np.float32]


def normalised(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class _Row:
    document_id: str
    title: str
    chunk: int
    text: str


@dataclass(frozen=True, slots=True)
class _AgentIndex:
    matrix: Matrix  # (rows, dims), unit rows
    rows: tuple[_Row, ...]


class LocalVectorIndex:
    """Chunks by agent; cosine similarity search. Not thread-safe: use it from one event loop."""

    def __init__(self) -> None:
        self._agents: dict[int, _AgentIndex] = {}
        self._documents: dict[str, int] = {}  # document_id -> agent_id

    @property
    def document_ids(self) -> set[str]:
        return set(self._documents)

    def __len__(self) -> int:
        return sum(len(index.rows) for index in self._agents.values())

    @property
    def dimensions(self) -> int | None:
        for index in self._agents.values():
            return int(index.matrix.shape[1])
        return None

    def has(self, agent_id: int) -> bool:
        """Whether the agent has any chunk indexed (a dict lookup)."""
        return agent_id in self._agents

    def clear(self) -> None:
        self._agents.clear()
        self._documents.clear()

    def add(self, chunks: Sequence[EmbeddedChunk]) -> None:
        """Index chunks (of any documents and agents); a document already indexed is replaced."""
        by_agent: dict[int, list[EmbeddedChunk]] = {}
        for chunk in chunks:
            by_agent.setdefault(chunk.agent_id, []).append(chunk)
        self.remove({c.document_id for c in chunks})
        for agent_id, group in by_agent.items():
            fresh = normalised(np.array([c.embedding for c in group], dtype=np.float32))
            rows = tuple(_Row(c.document_id, c.title, c.chunk, c.text) for c in group)
            current = self._agents.get(agent_id)
            if current is not None:
                if current.matrix.shape[1] != fresh.shape[1]:
                    raise ValueError(
                        f"vectors of {fresh.shape[1]} dimensions cannot join an index of {current.matrix.shape[1]}"
                    )
                fresh, rows = np.vstack([current.matrix, fresh]), current.rows + rows
            self._agents[agent_id] = _AgentIndex(fresh, rows)
            for chunk in group:
                self._documents[chunk.document_id] = agent_id

    def remove(self, document_ids: Iterable[str]) -> None:
        gone = {d for d in document_ids if d in self._documents}
        for agent_id in {self._documents.pop(d) for d in gone}:
            index = self._agents[agent_id]
            keep = np.array([row.document_id not in gone for row in index.rows], dtype=bool)
            if keep.any():
                rows = tuple(row for row, kept in zip(index.rows, keep, strict=True) if kept)
                self._agents[agent_id] = _AgentIndex(np.ascontiguousarray(index.matrix[keep]), rows)
            else:
                del self._agents[agent_id]

    def remove_agent(self, agent_id: int) -> None:
        self.remove([d for d, a in self._documents.items() if a == agent_id])

    def search(
        self, agent_id: int, vector: Sequence[float], k: int, min_score: float | None = None
    ) -> list[ScoredChunk]:
        index = self._agents.get(agent_id)
        if index is None or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (index.matrix.shape[1],):
            raise ValueError(
                f"a {query.shape} query cannot search {index.matrix.shape[1]}-dimensional vectors"
            )
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        # einsum, not `@`: one predictable thread. Multi-threaded BLAS gemv is no faster on a memory-bound
        # product and, on a busy machine, its threads wait on each other (p50 16 ms vs 1.2 ms measured).
        scores = np.einsum("ij,j->i", index.matrix, query)
        if k < len(scores):
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
        else:
            top = np.argsort(-scores, kind="stable")
        found = []
        for i in top:
            score = float(scores[i])
            if min_score is not None and score < min_score:
                break
            row = index.rows[i]
            found.append(ScoredChunk(row.document_id, row.title, row.text, score, row.chunk))
        return found
