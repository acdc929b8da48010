"""LLM diagnostics and readiness: what operators ask to know whether the platform can answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from application.ports.chat_model import ChatModel, KeyCheck, ModelInfo, ProviderCheck
from application.ports.health import ComponentHealth, HealthProbe


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    components: tuple[ComponentHealth, ...]


class Diagnostics:
    def __init__(self, model: ChatModel, probes: Sequence[HealthProbe]) -> None:
        self._model = model
        self._probes = probes

    async def test_llm(self) -> ProviderCheck:
        reason = self._model.unavailable_reason()
        if reason is not None:
            return ProviderCheck(False, self._model.provider, self._model.default_model, None, reason)
        return await self._model.check()

    async def list_models(self) -> list[ModelInfo]:
        return await self._model.list_models()

    async def verify_key(self) -> KeyCheck:
        return await self._model.verify_key()

    async def readiness(self) -> Readiness:
        """Every component's state; the LLM is judged on its configuration, not by a paid round trip."""
        components = list(await asyncio.gather(*(probe.health() for probe in self._probes)))
        reason = self._model.unavailable_reason()
        components.append(
            ComponentHealth(
                "llm", reason is None, f"{self._model.provider}:{self._model.default_model}", reason
            )
        )
        return Readiness(all(c.ok for c in components), tuple(components))
