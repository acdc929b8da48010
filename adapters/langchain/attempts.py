"""How one request is tried on each model in turn, each under its own deadline, until one answers.

Resilience, layer by layer:

* **Retries** of one call are the provider SDK's (`max_retries`): the groq and openai SDKs retry 408/409/429/
  5xx, timeouts and connection errors with exponential backoff and honour `retry-after`. Ollama's client
  retries nothing, so its whole answers go through LangChain's `with_retry` on connection errors.
* **Timeouts**: the SDK's timeout bounds each HTTP attempt, but neither it nor `with_retry` bounds the whole
  call (retries add up) nor a stream that drips slowly. Each model tried therefore gets an asyncio deadline
  of `timeout` seconds: on the whole answer, and on every wait for a streamed piece (so both the first token
  and the end of the answer are due by the same deadline).
* **Fallbacks** (`fallback_models`) are tried in order when a model fails *before any text*. LangChain's
  `with_fallbacks` is not used because it cannot give each model its own deadline, falls back only before
  the first chunk (an empty role chunk already counts as started), and does not say which model answered.
* A failure after text was streamed is not retried (the visitor already saw part of an answer): it is
  `LlmStreamFailed`. A stream that ends without the provider's finish marker (Groq's in-stream `x_groq.error`
  ends the SSE stream quietly, with no finish_reason and no usage) is such a failure too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from adapters.langchain.failures import describe, key_rejected
from adapters.langchain.messages import model_name, to_langchain, usage_of
from adapters.langchain.providers import ProviderProfile
from adapters.langchain.streamed_answer import StreamedAnswer
from application.ports.chat_model import ModelDelta, ModelReply, ModelRequest
from domain.bounds import MAX_REPLY_CHARS
from domain.errors import LlmKeyRejected, LlmUnavailable

log = logging.getLogger("centralita.llm")


@dataclass(frozen=True, slots=True)
class Attempts:
    """Deadlines and fallbacks over the models the adapter builds; a model id is always `provider:model`."""

    timeout: float
    max_retries: int
    unavailable: Callable[[str], str | None]  # why a model cannot be tried (its key is unset), or None
    prepare: Callable[[str, ModelRequest], BaseChatModel]  # the model with the request's settings
    profile_of: Callable[[str], ProviderProfile]
    max_reply_chars: int = MAX_REPLY_CHARS

    async def complete(self, candidates: list[str], request: ModelRequest) -> ModelReply:
        """The first whole answer of the candidates, tried in order."""
        failures: list[LlmUnavailable] = []
        for model_id in candidates:
            try:
                return await self.complete_one(model_id, request)
            except LlmUnavailable as error:
                failures.append(error)
        raise _all_failed(failures)

    async def complete_one(self, model_id: str, request: ModelRequest) -> ModelReply:
        """One model's whole answer, due within the timeout (its retries included)."""
        reason = self.unavailable(model_id)
        if reason is not None:
            raise LlmUnavailable(reason)
        try:
            runnable = self._with_retries(model_id, self.prepare(model_id, request))
            async with asyncio.timeout(self.timeout):
                reply = await runnable.ainvoke(to_langchain(request.messages))
            if not isinstance(reply, AIMessage):
                raise TypeError(f"expected an AIMessage, got {type(reply).__name__}")
        except Exception as error:
            raise self._failed(model_id, error) from error
        if len(reply.text) > self.max_reply_chars:
            raise LlmUnavailable(f"{model_id} sent more than {self.max_reply_chars} characters.")
        return ModelReply(str(reply.text), model_name(reply, model_id), usage_of(reply))

    async def stream(self, candidates: list[str], request: ModelRequest) -> AsyncIterator[ModelDelta]:
        """The streamed answer of the first candidate to say any text; closing it closes the provider call."""
        messages = to_langchain(request.messages)
        failures: list[LlmUnavailable] = []
        for model_id in candidates:
            reason = self.unavailable(model_id)
            if reason is not None:
                failures.append(LlmUnavailable(reason))
                continue
            deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                model = self.prepare(model_id, request)
                chunks = aiter(model.astream(messages))
            except Exception as error:
                failures.append(self._failed(model_id, error))
                continue
            answer = StreamedAnswer(model_id, self.profile_of(model_id), self.max_reply_chars)
            try:
                try:
                    head = await answer.until_text(chunks, deadline)
                except Exception as error:  # nothing was said: the next model may answer instead
                    failures.append(self._failed(model_id, error))
                    continue
                for delta in head:
                    yield delta
                async for delta in answer.rest(chunks, deadline):
                    yield delta
                return
            finally:
                with suppress(Exception):
                    await chunks.aclose()  # type: ignore[attr-defined]
        raise _all_failed(failures)

    def _with_retries(self, model_id: str, model: BaseChatModel) -> Runnable[Any, Any]:
        """Providers whose SDK does not retry get LangChain's retry on connection errors and timeouts."""
        if self.profile_of(model_id).sdk_retries or self.max_retries == 0:
            return model
        return model.with_retry(
            retry_if_exception_type=(httpx.TransportError,),
            wait_exponential_jitter=True,
            stop_after_attempt=self.max_retries + 1,
        )

    def _failed(self, model_id: str, error: BaseException) -> LlmUnavailable:
        """Log a failed attempt (without the provider's text, which may echo a key) and describe it."""
        if isinstance(error, TimeoutError):
            detail = f"{model_id} did not answer within {self.timeout:g} s."
        else:
            detail = describe(model_id, error, self.profile_of(model_id).key_env)
        log.warning("model call failed: %s", detail)
        return LlmKeyRejected(detail) if key_rejected(error) else LlmUnavailable(detail)


def _all_failed(failures: list[LlmUnavailable]) -> LlmUnavailable:
    """Every candidate failed: one error saying each failure, a refused key if any model refused its key."""
    detail = " ".join(f.detail for f in failures)
    return (
        LlmKeyRejected(detail)
        if any(isinstance(f, LlmKeyRejected) for f in failures)
        else LlmUnavailable(detail)
    )
