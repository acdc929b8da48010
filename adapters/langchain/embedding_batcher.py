"""Query embeddings under load: micro-batched, and the recent ones remembered.

`QueryBatcher` sits in front of an in-process embedder. The first query starts at once (no added latency
when it is alone); queries that arrive while a batch is being computed wait for it and then go together, in
one call off the event loop. With the bundled fusion a question costs ~22 ms alone and ~18.5 ms in a batch on
the loaded 2-core machine (e5's forward pass, ~18 ms, hardly shrinks per query; the rest of the call does), and
a batch is one thread hop instead of many (docs/performance.md). Each caller gets its own vector; an exception
reaches every caller of that batch; a caller that is cancelled leaves the others alone (its text is dropped if
its batch has not started).

`QueryVectorCache` is a bounded LRU of query vectors by exact text: visitors repeat greetings and the
widget's quick questions, and clients retry.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Vector = list[float]
EmbedMany = Callable[[list[str]], Sequence[Sequence[float]]]


@dataclass
class _Waiting:
    """The queries of one event loop waiting for the next batch, and the task computing batches."""

    queue: list[tuple[str, asyncio.Future[Vector]]] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None


class QueryBatcher:
    """Embeds queries in batches: `embed_many` (blocking, thread-safe) runs in the batcher's worker thread."""

    def __init__(self, embed_many: EmbedMany, max_batch: int = 16) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._embed_many = embed_many
        self._max_batch = max_batch
        # One thread of its own: batches run one at a time anyway (the models hold a lock), and a single thread
        # keeps their activations in one malloc arena (the default executor's threads measured +26 MB RSS).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-embedding")
        # One queue per event loop: futures belong to a loop (tests and the CLI run several loops in turn).
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiting] = (
            weakref.WeakKeyDictionary()
        )
        self.batches = 0  # batches computed, for tests and measurements
        self.largest = 0

    async def embed(self, text: str) -> Vector:
        loop = asyncio.get_running_loop()
        waiting = self._loops.get(loop)
        if waiting is None:
            waiting = self._loops[loop] = _Waiting()
        future: asyncio.Future[Vector] = loop.create_future()
        waiting.queue.append((text, future))
        if waiting.worker is None or waiting.worker.done():
            waiting.worker = loop.create_task(self._work(waiting), name="query-embedding-batches")
        return await future

    async def _work(self, waiting: _Waiting) -> None:
        batch: list[tuple[str, asyncio.Future[Vector]]] = []
        try:
            while waiting.queue:
                # Callers cancelled while they waited are dropped before the batch starts.
                live = [(text, future) for text, future in waiting.queue if not future.done()]
                batch, waiting.queue = live[: self._max_batch], live[self._max_batch :]
                if not batch:
                    continue
                self.batches += 1
                self.largest = max(self.largest, len(batch))
                try:
                    texts = [text for text, _ in batch]
                    vectors = await asyncio.get_running_loop().run_in_executor(
                        self._executor, self._embed_many, texts
                    )
                    if len(vectors) != len(batch):
                        raise RuntimeError(f"{len(vectors)} vectors for {len(batch)} queries")
                except Exception as error:  # every caller of the batch gets it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), vector in zip(batch, vectors, strict=True):
                        if not future.done():
                            future.set_result(list(vector))
                batch = []
        finally:
            # Cancelled itself (the loop shutting down): nobody may wait forever.
            for _, future in batch + waiting.queue:
                if not future.done():
                    future.cancel()
            if asyncio.current_task() is waiting.worker:
                waiting.worker = None


class QueryVectorCache:
    """The last `size` query vectors by exact text (LRU); `size` 0 keeps nothing.

    Kept as float32 arrays (3.5 KB at 896 dims, ~7 MB for 2,048; a tuple of Python floats would take 28 KB):
    exact for the bundled models, which compute in float32.
    """

    def __init__(self, size: int) -> None:
        self._size = max(0, size)
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str) -> Vector | None:
        if not self._size:
            return None
        found = self._vectors.get(text)
        if found is None:
            self.misses += 1
            return None
        self._vectors.move_to_end(text)
        self.hits += 1
        return found.tolist()  # type: ignore[no-any-return]  # a fresh list: callers cannot change the cache

    def put(self, text: str, vector: Sequence[float]) -> None:
        if not self._size:
            return
        self._vectors[text] = np.asarray(vector, dtype=np.float32)
        self._vectors.move_to_end(text)
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)
