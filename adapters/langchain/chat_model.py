"""How the ChatModel port talks to any LangChain chat provider (`init_chat_model`, ChatGroq by default).

Resilience, layer by layer:

* **Retries** of one call are the provider SDK's (`max_retries`): the groq and openai SDKs retry 408/409/429/
  5xx, timeouts and connection errors with exponential backoff and honour `retry-after`. Ollama's client
  retries nothing, so its whole answers go through LangChain's `with_retry` on connection errors.
* **Timeouts**: the SDK's timeout bounds each HTTP attempt, but neither it nor `with_retry` bounds the whole
  call (retries add up) nor a stream that drips slowly. The adapter therefore puts an asyncio deadline of
  `timeout` seconds on each model it tries: on the whole answer, and on every wait for a streamed piece (so
  both the first token and the end of the answer are due by the same deadline).
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
import time
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

from adapters.langchain.providers import ProviderProfile, env_value, init_kwargs, key_hint, profile_for
from application.ports.chat_model import (
    ChatModel,
    KeyCheck,
    ModelDelta,
    ModelInfo,
    ModelReply,
    ModelRequest,
    PromptMessage,
    ProviderCheck,
)
from domain.conversations import Role
from domain.errors import LlmStreamFailed, LlmUnavailable
from domain.usage import Usage

log = logging.getLogger("centralita.llm")

ModelFactory = Callable[..., BaseChatModel]


@dataclass(frozen=True, slots=True)
class LlmConfig:
    model: str  # "provider:model"
    temperature: float = 0.7
    max_tokens: int = 2000
    timeout: float = 30.0
    max_retries: int = 2
    fallback_models: tuple[str, ...] = ()  # "provider:model" (or a bare name on the default provider)
    api_keys: dict[str, str] = field(default_factory=dict)  # provider -> key, over the provider's env var
    base_urls: dict[str, str] = field(default_factory=dict)


def split_model(model: str, default_provider: str) -> tuple[str, str]:
    """`provider:model`, or a bare model name on the default provider."""
    provider, sep, name = model.partition(":")
    return (provider, name) if sep else (default_provider, model)


class LangChainChatModel(ChatModel):
    """One long-lived LangChain model per `provider:model` in use, built on first need and reused."""

    def __init__(self, config: LlmConfig, factory: ModelFactory = init_chat_model) -> None:
        self._config = config
        self._factory = factory
        self.provider, self.default_model = split_model(config.model, "groq")
        self._fallbacks = tuple(self._resolve(m) for m in config.fallback_models if m.strip())
        self._models: dict[str, BaseChatModel] = {}
        self._variants: dict[tuple[str, float | None, int | None], BaseChatModel] = {}
        for model_id in (self.default_model_id, *self._fallbacks):
            if self._reason(model_id) is None:
                self._model(model_id)  # fail fast on a bad LLM_MODEL or LLM_FALLBACK_MODELS

    @property
    def default_model_id(self) -> str:
        return f"{self.provider}:{self.default_model}"

    def unavailable_reason(self) -> str | None:
        """Why no model can answer: the primary's missing key, unless a fallback can answer instead."""
        reason = self._reason(self.default_model_id)
        if reason is None or any(self._reason(m) is None for m in self._fallbacks):
            return None
        return reason

    async def complete(self, request: ModelRequest) -> ModelReply:
        failures: list[str] = []
        for model_id in self._candidates(request.model):
            try:
                return await self._complete_one(model_id, request)
            except LlmUnavailable as error:
                failures.append(error.detail)
        raise LlmUnavailable(" ".join(failures))

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        messages = _to_langchain(request.messages)
        failures: list[str] = []
        for model_id in self._candidates(request.model):
            reason = self._reason(model_id)
            if reason is not None:
                failures.append(reason)
                continue
            deadline = asyncio.get_running_loop().time() + self._config.timeout
            try:
                model = self._variant(model_id, request)
                chunks = aiter(model.astream(messages))
            except Exception as error:
                failures.append(self._failed(model_id, error))
                continue
            answer = _StreamedAnswer(model_id, profile_for(self._provider_of(model_id)))
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
        raise LlmUnavailable(" ".join(failures))

    async def list_models(self) -> list[ModelInfo]:
        profile = profile_for(self.provider)
        configured = [ModelInfo(self.default_model, self.provider)] + [
            ModelInfo(split_model(m, "")[1], split_model(m, "")[0]) for m in self._fallbacks
        ]
        if profile.list_models is None or self._reason(self.default_model_id) is not None:
            return configured
        try:
            return await profile.list_models(
                self._key(profile), self._base_url(profile), self._config.timeout
            )
        except Exception as error:
            raise LlmUnavailable(_describe(self.default_model_id, error)) from error

    async def check(self) -> ProviderCheck:
        """A one-token answer from the primary model (fallbacks would hide that it is down)."""
        started = time.perf_counter()
        ping = ModelRequest((PromptMessage(Role.USER, "ping"),), self.default_model_id, 0.0, 1)
        try:
            await self._complete_one(self.default_model_id, ping)
        except LlmUnavailable as error:
            return ProviderCheck(False, self.provider, self.default_model, _elapsed(started), error.detail)
        return ProviderCheck(True, self.provider, self.default_model, _elapsed(started))

    async def verify_key(self) -> KeyCheck:
        profile = profile_for(self.provider)
        key = self._key(profile)
        if profile.key_env is None:
            return KeyCheck(True, self.provider, None, f"{self.provider} needs no API key")
        if not key:
            reason = self._reason(self.default_model_id)
            if reason is None:  # a self-hosted server on a base URL, which needs no key
                check = await self.check()
                return KeyCheck(check.ok, self.provider, None, check.error or f"{profile.key_env} is not set")
            return KeyCheck(False, self.provider, None, f"{profile.key_env} is not set")
        if profile.list_models is None:
            check = await self.check()
            return KeyCheck(check.ok, self.provider, key_hint(key), check.error)
        try:
            await profile.list_models(key, self._base_url(profile), self._config.timeout)
        except Exception as error:
            status = getattr(error, "status_code", None)
            reason = (
                "the provider rejected the key" if status in (401, 403) else _describe(self.provider, error)
            )
            return KeyCheck(False, self.provider, key_hint(key), reason)
        return KeyCheck(True, self.provider, key_hint(key))

    # --- internals ------------------------------------------------------------------------------------

    def _candidates(self, requested: str | None) -> list[str]:
        """The requested (or default) model, then the fallbacks not already tried."""
        primary = self._resolve(requested)
        return [primary, *(m for m in self._fallbacks if m != primary)]

    async def _complete_one(self, model_id: str, request: ModelRequest) -> ModelReply:
        reason = self._reason(model_id)
        if reason is not None:
            raise LlmUnavailable(reason)
        try:
            runnable = self._with_retries(model_id, self._variant(model_id, request))
            async with asyncio.timeout(self._config.timeout):
                reply = await runnable.ainvoke(_to_langchain(request.messages))
            if not isinstance(reply, AIMessage):
                raise TypeError(f"expected an AIMessage, got {type(reply).__name__}")
        except Exception as error:
            raise LlmUnavailable(self._failed(model_id, error)) from error
        return ModelReply(str(reply.text), _model_name(reply, model_id), _usage(reply))

    def _with_retries(self, model_id: str, model: BaseChatModel) -> Runnable[Any, Any]:
        """Providers whose SDK does not retry get LangChain's retry on connection errors and timeouts."""
        profile = profile_for(self._provider_of(model_id))
        if profile.sdk_retries or self._config.max_retries == 0:
            return model
        return model.with_retry(
            retry_if_exception_type=(httpx.TransportError,),
            wait_exponential_jitter=True,
            stop_after_attempt=self._config.max_retries + 1,
        )

    def _failed(self, model_id: str, error: BaseException) -> str:
        """Log a failed attempt (without the provider's text, which may echo a key) and describe it."""
        if isinstance(error, TimeoutError):
            detail = f"{model_id} did not answer within {self._config.timeout:g} s."
        else:
            detail = _describe(model_id, error)
        log.warning("model call failed: %s", detail)
        return detail

    def _resolve(self, requested: str | None) -> str:
        provider, name = split_model(requested or self.default_model_id, self.provider)
        return f"{provider}:{name}"

    def _provider_of(self, model_id: str) -> str:
        return split_model(model_id, self.provider)[0]

    def _reason(self, model_id: str) -> str | None:
        profile = profile_for(self._provider_of(model_id))
        if profile.key_optional_with_base_url and self._base_url(profile):
            return None
        if profile.key_env and not self._key(profile):
            return (
                f"The language model is not configured: set {profile.key_env} "
                f"(or choose another provider with LLM_MODEL) and restart the server."
            )
        return None

    def _variant(self, model_id: str, request: ModelRequest) -> BaseChatModel:
        """The model with the agent's temperature and token limit: a copy sharing the base model's client.

        Settings are not passed per call because integrations disagree on call-time arguments (ChatOllama
        would send `num_predict` outside its options)."""
        if request.temperature is None and request.max_tokens is None:
            return self._model(model_id)
        key = (model_id, request.temperature, request.max_tokens)
        variant = self._variants.get(key)
        if variant is None:
            update: dict[str, Any] = {}
            if request.temperature is not None:
                update["temperature"] = request.temperature
            if request.max_tokens is not None:
                update[profile_for(self._provider_of(model_id)).max_tokens_arg] = request.max_tokens
            variant = self._model(model_id).model_copy(update=update)
            self._variants[key] = variant
        return variant

    def _model(self, model_id: str) -> BaseChatModel:
        model = self._models.get(model_id)
        if model is None:
            profile = profile_for(self._provider_of(model_id))
            try:
                model = self._factory(
                    model_id,
                    **init_kwargs(
                        profile,
                        self._key(profile),
                        self._base_url(profile),
                        temperature=self._config.temperature,
                        max_tokens=self._config.max_tokens,
                        timeout=self._config.timeout,
                        max_retries=self._config.max_retries,
                    ),
                )
            except Exception as error:
                raise LlmUnavailable(
                    f"The model {model_id!r} cannot be used: {type(error).__name__}."
                ) from error
            self._models[model_id] = model
            log.info("chat model ready: %s", model_id)
        return model

    def _key(self, profile: ProviderProfile) -> str | None:
        return self._config.api_keys.get(profile.name) or env_value(profile.key_env)

    def _base_url(self, profile: ProviderProfile) -> str | None:
        return self._config.base_urls.get(profile.name) or env_value(profile.base_url_env)


class _StreamedAnswer:
    """One model's streamed answer: its pieces, its usage, and whether the provider finished it."""

    def __init__(self, model_id: str, profile: ProviderProfile) -> None:
        self.model_id = model_id
        self.profile = profile
        self.finished = not profile.finish_keys  # providers we cannot check are trusted
        self.usage: Usage | None = None
        self.name: str | None = None
        self.ended = False

    async def until_text(self, chunks: AsyncIterator[Any], deadline: float) -> list[ModelDelta]:
        """Read up to the first piece of text (or the end of an empty answer); raises if none comes."""
        while True:
            chunk = await self._next(chunks, deadline)
            if chunk is None:
                if not self.finished:
                    raise _Unfinished()
                return []
            text = self._take(chunk)
            if text:
                return [ModelDelta(text, model=self.model_id)]

    async def rest(self, chunks: AsyncIterator[Any], deadline: float) -> AsyncIterator[ModelDelta]:
        """The pieces after the first; any failure now is LlmStreamFailed."""
        try:
            while not self.ended:
                chunk = await self._next(chunks, deadline)
                if chunk is None:
                    break
                text = self._take(chunk)
                if text:
                    yield ModelDelta(text, model=self.model_id)
            if not self.finished:
                raise _Unfinished()
        except Exception as error:
            detail = (
                f"{self.model_id} did not finish the answer in time."
                if isinstance(error, TimeoutError)
                else _describe(self.model_id, error)
            )
            log.warning("stream broke off: %s", detail)
            raise LlmStreamFailed(f"The answer broke off: {detail}") from error
        name = _qualified(self.model_id, self.name) if self.name else self.model_id
        yield ModelDelta(usage=self.usage, model=name)

    async def _next(self, chunks: AsyncIterator[Any], deadline: float) -> AIMessageChunk | None:
        if self.ended:
            return None
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            self.ended = True
            return None
        if not isinstance(chunk, AIMessageChunk):
            raise TypeError(f"expected an AIMessageChunk, got {type(chunk).__name__}")
        return chunk

    def _take(self, chunk: AIMessageChunk) -> str:
        meta = chunk.response_metadata
        if any(meta.get(key) for key in self.profile.finish_keys):
            self.finished = True
        self.usage = _usage(chunk) or self.usage
        self.name = meta.get("model_name") or self.name
        return str(chunk.text)


class _Unfinished(Exception):
    """The provider closed the stream without its finish marker (an in-stream error, a cut connection)."""


_ROLES: dict[Role, type[BaseMessage]] = {
    Role.SYSTEM: SystemMessage,
    Role.USER: HumanMessage,
    Role.ASSISTANT: AIMessage,
}


def _to_langchain(messages: tuple[PromptMessage, ...]) -> list[BaseMessage]:
    return [_ROLES[m.role](content=m.content) for m in messages]


def _usage(message: AIMessage) -> Usage | None:
    meta = message.usage_metadata
    if not meta:
        return None
    return Usage(meta["input_tokens"], meta["output_tokens"], meta["total_tokens"])


def _qualified(model_id: str, name: str) -> str:
    provider, _ = split_model(model_id, "")
    return f"{provider}:{name}" if provider else name


def _model_name(message: AIMessage, model_id: str) -> str:
    name = message.response_metadata.get("model_name")
    return _qualified(model_id, name) if name else model_id


def _describe(model_id: str, error: BaseException) -> str:
    """A provider failure in words safe to show: its kind and HTTP status, never its raw text or a key."""
    if isinstance(error, _Unfinished):
        return f"{model_id} ended the answer without finishing it (an error inside the stream)."
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    return f"{model_id} could not answer ({kind}{f', HTTP {status}' if status else ''})."


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
