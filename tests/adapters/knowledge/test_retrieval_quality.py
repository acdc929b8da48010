"""Retrieval quality of the default embedder on the es/en support FAQ (tests/fixtures/support_faq.json).

The fixture's documents go through the real ingestion path (splitter defaults, passage text with the title,
the default EMBEDDINGS_MODEL, the local index); each question is retrieved as in a chat turn. A question
counts for recall@k when a relevant document is among the first k distinct documents of the ranked chunks.
The fixture is embedded once per session.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.knowledge.files import FileReader, RecursiveSplitter
from adapters.knowledge.markdown import MarkdownRenderer
from adapters.knowledge.memory import MemoryKnowledgeStore
from adapters.langchain.embeddings import LangChainEmbedder
from adapters.memory.agents import MemoryAgentRepository
from application.agents import AgentService
from application.knowledge import DocumentLimits, EmbeddingRetriever, KnowledgeService
from entrypoints.settings import Settings

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "support_faq.json"
RECALL_AT_3_FLOOR = 0.9


@dataclass(frozen=True)
class Ranked:
    question: str
    cross: bool
    rank: int  # 1-based rank of the first relevant document among the retrieved documents (99: not found)


def _default(name: str) -> object:
    return Settings.model_fields[name].default


async def _evaluate() -> list[Ranked]:
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    agents = MemoryAgentRepository()
    await AgentService(agents).ensure_default()
    store = MemoryKnowledgeStore()
    embedder = LangChainEmbedder.from_setting(str(_default("embeddings_model")))
    splitter = RecursiveSplitter(int(str(_default("chunk_size"))), int(str(_default("chunk_overlap"))))
    service = KnowledgeService(agents, store, embedder, splitter, FileReader(), DocumentLimits())
    ids: dict[str, str] = {}
    language: dict[str, str] = {}
    for doc in raw["documents"]:
        added = await service.add_text(1, doc["title"], doc["text"])
        ids[added.document_id] = doc["id"]
        language[doc["id"]] = doc["language"]
    retriever = EmbeddingRetriever(store, embedder, MarkdownRenderer())
    results = []
    for q in raw["questions"]:
        chunks = await retriever.retrieve(1, q["question"], 30)
        documents = list(dict.fromkeys(ids[c.document_id] for c in chunks))
        ranks = [documents.index(r) + 1 for r in q["relevant"] if r in documents]
        cross = all(language[r] != q["language"] for r in q["relevant"])
        results.append(Ranked(q["question"], cross, min(ranks, default=99)))
    return results


@pytest.fixture(scope="module")
def ranked() -> list[Ranked]:
    return asyncio.run(_evaluate())


def recall(results: list[Ranked], k: int) -> float:
    return sum(r.rank <= k for r in results) / len(results)


def test_the_fixture_has_enough_questions_in_both_directions(ranked: list[Ranked]) -> None:
    assert len(ranked) >= 30
    assert sum(r.cross for r in ranked) >= 10


def test_recall_of_the_default_embedder(ranked: list[Ranked], capsys: pytest.CaptureFixture[str]) -> None:
    groups = {
        "all": ranked,
        "same-language": [r for r in ranked if not r.cross],
        "cross-language": [r for r in ranked if r.cross],
    }
    with capsys.disabled():
        print(f"\nretrieval quality, EMBEDDINGS_MODEL={_default('embeddings_model')}:")
        for name, group in groups.items():
            print(
                f"  {name:15} n={len(group):3}  recall@1 {recall(group, 1):.3f}  recall@3 {recall(group, 3):.3f}"
            )
        for r in ranked:
            if r.rank > 3:
                print(f"  miss (rank {r.rank}): {r.question}")
    assert recall(ranked, 3) >= RECALL_AT_3_FLOOR
