"""The query batcher and the query-vector cache, on a fake blocking embedder."""

from __future__ import annotations

import asyncio
import threading

import pytest

from adapters.langchain.embedding_batcher import QueryBatcher, QueryVectorCache
from adapters.langchain.embeddings import LangChainEmbedder


class SlowEmbedder:
    """Blocks until released, so that the test decides what arrives during a batch; records each batch."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.started.set()
        assert self.release.wait(5)
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"cannot embed {self.fail_on}")
        return [[float(len(t)), float(ord(t[0]))] for t in texts]


async def wait_started(model: SlowEmbedder) -> None:
    assert await asyncio.to_thread(model.started.wait, 5)
    model.started.clear()


async def test_a_lone_query_starts_at_once_and_later_ones_form_the_next_batch() -> None:
    model = SlowEmbedder()
    batcher = QueryBatcher(model)
    first = asyncio.create_task(batcher.embed("a"))
    await wait_started(model)  # computing without waiting for company
    later = [asyncio.create_task(batcher.embed(t)) for t in ("bb", "ccc", "dddd")]
    await asyncio.sleep(0.01)
    model.release.set()
    assert await first == [1.0, ord("a")]
    assert [await t for t in later] == [[2.0, ord("b")], [3.0, ord("c")], [4.0, ord("d")]]  # each its own
    assert model.batches == [["a"], ["bb", "ccc", "dddd"]]
    assert batcher.batches == 2 and batcher.largest == 3


async def test_batches_are_bounded() -> None:
    model = SlowEmbedder()
    model.release.set()
    batcher = QueryBatcher(model, max_batch=2)
    texts = ["a", "b", "c", "d", "e"]
    vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))
    assert [v[1] for v in vectors] == [float(ord(t)) for t in texts]
    assert all(len(b) <= 2 for b in model.batches) and sum(map(len, model.batches)) == 5


async def test_an_error_reaches_every_caller_of_its_batch_only() -> None:
    model = SlowEmbedder(fail_on="bad")
    batcher = QueryBatcher(model)
    first = asyncio.create_task(batcher.embed("ok"))
    await wait_started(model)
    doomed = [asyncio.create_task(batcher.embed(t)) for t in ("bad", "fine")]
    await asyncio.sleep(0.01)
    model.release.set()
    assert await first == [2.0, ord("o")]
    for task in doomed:
        with pytest.raises(ValueError, match="cannot embed bad"):
            await task
    assert await batcher.embed("after") == [5.0, ord("a")]  # the batcher still works


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    model = SlowEmbedder()
    batcher = QueryBatcher(model)
    running = asyncio.create_task(batcher.embed("x"))
    await wait_started(model)
    waiting = [asyncio.create_task(batcher.embed(t)) for t in ("gone", "kept")]
    await asyncio.sleep(0.01)
    waiting[0].cancel()  # before its batch starts: its text is never embedded
    running_cancel = asyncio.create_task(batcher.embed("y"))
    await asyncio.sleep(0.01)
    model.release.set()
    assert await running == [1.0, ord("x")]
    assert await waiting[1] == [4.0, ord("k")]
    assert await running_cancel == [1.0, ord("y")]
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    assert all("gone" not in batch for batch in model.batches)


async def test_a_caller_cancelled_during_its_batch_leaves_the_batch_to_the_others() -> None:
    model = SlowEmbedder()
    batcher = QueryBatcher(model)
    one, two = asyncio.create_task(batcher.embed("one")), asyncio.create_task(batcher.embed("two"))
    await wait_started(model)
    one.cancel()
    await asyncio.sleep(0)
    model.release.set()
    assert await two == [3.0, ord("t")]
    assert one.cancelled()


def test_the_batcher_serves_one_event_loop_after_another() -> None:
    model = SlowEmbedder()
    model.release.set()
    batcher = QueryBatcher(model)
    assert asyncio.run(batcher.embed("a")) == [1.0, ord("a")]
    assert asyncio.run(batcher.embed("bb")) == [2.0, ord("b")]


def test_the_cache_is_a_bounded_lru_of_copies() -> None:
    cache = QueryVectorCache(2)
    cache.put("a", [1.0])
    cache.put("b", [2.0])
    assert cache.get("a") == [1.0]  # a is now the most recent
    cache.put("c", [3.0])
    assert cache.get("b") is None and cache.get("c") == [3.0] and len(cache) == 2
    got = cache.get("a")
    assert got is not None
    got.append(9.0)
    assert cache.get("a") == [1.0]
    assert (cache.hits, cache.misses) == (4, 1)
    off = QueryVectorCache(0)
    off.put("a", [1.0])
    assert off.get("a") is None and len(off) == 0


class CountingEmbeddings:
    """A LangChain-like embeddings object without `embed_queries`: one `embed_query` per question."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(text)
        return [float(len(text)), 1.0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[0.0, 1.0] for _ in texts]


async def test_the_embedder_caches_exact_questions_and_can_be_told_not_to() -> None:
    inner = CountingEmbeddings()
    embedder = LangChainEmbedder(inner, "counting", in_process=True)  # type: ignore[arg-type]
    inner.calls.clear()  # the dimension probe
    assert await embedder.embed_query("hola") == [4.0, 1.0]
    assert await embedder.embed_query("hola") == [4.0, 1.0]
    assert await embedder.embed_query("hola ") == [5.0, 1.0]  # exact text: another question
    assert inner.calls == ["hola", "hola "]
    assert embedder.cache.hits == 1
    uncached = LangChainEmbedder(inner, "counting", in_process=True, query_cache_size=0)  # type: ignore[arg-type]
    inner.calls.clear()
    await uncached.embed_query("hola")
    await uncached.embed_query("hola")
    assert inner.calls == ["hola", "hola"]
