"""LLM diagnostics and readiness: what operators ask to know whether the platform can answer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from application.llm_status import KeyStatus
from application.ports.chat_model import ChatModel, KeyCheck, ModelInfo, ProviderCheck
from application.ports.health import ComponentHealth, HealthProbe, Vital

# While the key is known refused, `/ready` asks the provider again this often (in the background): an instance
# taken out of rotation gets no chat turns that could tell it the key works again.
KEY_RECHECK_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    components: tuple[ComponentHealth, ...]


class Diagnostics:
    def __init__(
        self,
        model: ChatModel,
        probes: Sequence[HealthProbe],
        key_status: KeyStatus | None = None,
        key_recheck_seconds: float = KEY_RECHECK_SECONDS,
        vitals: Sequence[Vital] = (),
    ) -> None:
        self._model = model
        self._vitals = vitals
        self._probes = probes
        self._key_status = key_status or KeyStatus()
        self._recheck_seconds = key_recheck_seconds
        self._recheck: asyncio.Task[None] | None = None

    async def test_llm(self) -> ProviderCheck:
        reason = self._model.unavailable_reason()
        if reason is not None:
            return ProviderCheck(False, self._model.provider, self._model.default_model, None, reason)
        check = await self._model.check()
        self._key_status.record_key_check(check)
        return check

    async def list_models(self) -> list[ModelInfo]:
        return await self._model.list_models()

    async def verify_key(self) -> KeyCheck:
        check = await self._model.verify_key()
        self._key_status.record_key_check(check)
        return check

    async def readiness(self) -> Readiness:
        """Every component's state; the LLM is judged on its configuration and on what the provider last said
        of the key (the startup check, the chat turns), not by a paid round trip."""
        components = list(await asyncio.gather(*(probe.health() for probe in self._probes)))
        reason = self.llm_problem()
        if reason is not None and self._key_status.problem is not None:
            self._recheck_key_soon()
        components.append(
            ComponentHealth(
                "llm", reason is None, f"{self._model.provider}:{self._model.default_model}", reason
            )
        )
        return Readiness(all(c.ok for c in components), tuple(components))

    def llm_problem(self) -> str | None:
        """Why the model cannot answer now (not configured, key refused), or None; no round trip."""
        return self._model.unavailable_reason() or self._key_status.problem

    def liveness_failure(self) -> str | None:
        """Why the process cannot serve again without a restart, or None (for `/health`)."""
        return next((v.failure for v in self._vitals if v.failure is not None), None)

    async def close(self) -> None:
        """Stop a key re-check still running (at shutdown)."""
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(BaseException):
                await self._recheck

    def _recheck_key_soon(self) -> None:
        if self._recheck is not None and not self._recheck.done():
            return
        if time.monotonic() - self._key_status.changed_at < self._recheck_seconds:
            return
        self._key_status.changed_at = time.monotonic()  # one re-check per interval, whatever it finds
        self._recheck = asyncio.create_task(self._recheck_key())

    async def _recheck_key(self) -> None:
        with contextlib.suppress(
            Exception
        ):  # a background check never raises; the status keeps its last word
            await self.verify_key()
