"""HealthProbe for the knowledge index: `/ready` reports it as the component `knowledge`."""

from __future__ import annotations

import asyncio

from application.ports.embeddings import Embedder
from application.ports.health import ComponentHealth, HealthProbe
from application.ports.knowledge import KnowledgeStore
from domain.errors import CentralitaError


class KnowledgeHealthProbe(HealthProbe):
    """Ready when the store answers and its vectors fit the embedder (what startup also checks)."""

    def __init__(self, store: KnowledgeStore, embedder: Embedder, kind: str, timeout_s: float = 2.0) -> None:
        self._store = store
        self._embedder = embedder
        self._kind = kind
        self._timeout_s = timeout_s

    async def health(self) -> ComponentHealth:
        try:
            stored = await asyncio.wait_for(self._store.stored_dimensions(), self._timeout_s)
        except TimeoutError:
            return self._status(False, f"the knowledge store did not answer within {self._timeout_s:g} s")
        except CentralitaError as error:
            return self._status(False, error.detail)
        except Exception as error:  # a probe never raises
            return self._status(False, f"the knowledge store failed ({type(error).__name__})")
        expected = self._embedder.dimensions
        if stored is not None and stored != expected:
            return self._status(
                False, f"stored vectors have {stored} dimensions, {self._embedder.name} makes {expected}"
            )
        state = "empty" if stored is None else f"{stored}-dimensional vectors"
        return self._status(True, f"embedder {self._embedder.name}, {state}")

    def _status(self, ok: bool, detail: str) -> ComponentHealth:
        return ComponentHealth("knowledge", ok, self._kind, detail)
