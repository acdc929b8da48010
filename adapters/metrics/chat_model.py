"""The ChatModel port, measured: tokens by model, time to first token, call latency and errors by provider.

A decorator around any ChatModel adapter (wired in the container), so neither the use case nor the provider
adapter knows about Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from adapters.metrics.prometheus import LLM_ERRORS, LLM_FIRST_TOKEN, LLM_LATENCY, LLM_TOKENS
from application.ports.chat_model import (
    ChatModel,
    KeyCheck,
    ModelDelta,
    ModelInfo,
    ModelReply,
    ModelRequest,
    ProviderCheck,
)
from domain.errors import CentralitaError
from domain.usage import Usage


def count_tokens(model: str, usage: Usage | None) -> None:
    if usage is not None:
        LLM_TOKENS.labels(model, "in").inc(usage.input_tokens)
        LLM_TOKENS.labels(model, "out").inc(usage.output_tokens)


class InstrumentedChatModel(ChatModel):
    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner
        self.provider = inner.provider
        self.default_model = inner.default_model

    def unavailable_reason(self) -> str | None:
        return self._inner.unavailable_reason()

    async def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        try:
            reply = await self._inner.complete(request)
        except CentralitaError as error:
            LLM_ERRORS.labels(self.provider, error.code).inc()
            raise
        finally:
            LLM_LATENCY.labels(self.provider, "complete").observe(time.perf_counter() - started)
        count_tokens(reply.model, reply.usage)
        return reply

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        started = time.perf_counter()
        first = True
        usage: Usage | None = None
        model: str | None = None
        try:
            async for delta in self._inner.stream(request):
                if first and delta.text:
                    first = False
                    LLM_FIRST_TOKEN.labels(self.provider).observe(time.perf_counter() - started)
                usage = delta.usage or usage
                model = delta.model or model
                yield delta
        except CentralitaError as error:
            LLM_ERRORS.labels(self.provider, error.code).inc()
            raise
        finally:
            # Also when the consumer closes the stream early (the tokens spent so far are not reported then).
            LLM_LATENCY.labels(self.provider, "stream").observe(time.perf_counter() - started)
            count_tokens(model or f"{self.provider}:{self.default_model}", usage)

    async def list_models(self) -> list[ModelInfo]:
        return await self._inner.list_models()

    async def check(self) -> ProviderCheck:
        return await self._inner.check()

    async def verify_key(self) -> KeyCheck:
        return await self._inner.verify_key()
