"""How the ChatModel port talks to any LangChain chat provider (`init_chat_model`, ChatGroq by default)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage

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
        self._models: dict[str, BaseChatModel] = {}
        if self.unavailable_reason() is None:
            self._model(self.default_model_id)  # fail fast on a bad LLM_MODEL

    @property
    def default_model_id(self) -> str:
        return f"{self.provider}:{self.default_model}"

    def unavailable_reason(self, model_id: str | None = None) -> str | None:
        provider, _ = split_model(model_id or self.default_model_id, self.provider)
        profile = profile_for(provider)
        if profile.key_env and not self._key(profile):
            return (
                f"The language model is not configured: set {profile.key_env} "
                f"(or choose another provider with LLM_MODEL) and restart the server."
            )
        return None

    async def complete(self, request: ModelRequest) -> ModelReply:
        model_id = self._resolve(request.model)
        model = self._available_model(model_id)
        try:
            reply = await model.ainvoke(_to_langchain(request.messages), **self._call_args(model_id, request))
        except Exception as error:
            raise LlmUnavailable(_describe(model_id, error)) from error
        assert isinstance(reply, AIMessage)
        return ModelReply(str(reply.text), _model_name(reply, model_id), _usage(reply))

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        model_id = self._resolve(request.model)
        model = self._available_model(model_id)
        started = False
        try:
            async for chunk in model.astream(
                _to_langchain(request.messages), **self._call_args(model_id, request)
            ):
                assert isinstance(chunk, AIMessageChunk)
                text = str(chunk.text)
                usage = _usage(chunk)
                name = chunk.response_metadata.get("model_name")
                if text or usage or name:
                    started = started or bool(text)
                    yield ModelDelta(text, usage, _qualified(model_id, name) if name else None)
        except Exception as error:
            if started:
                raise LlmStreamFailed(f"The answer broke off: {_describe(model_id, error)}") from error
            raise LlmUnavailable(_describe(model_id, error)) from error

    async def list_models(self) -> list[ModelInfo]:
        profile = profile_for(self.provider)
        configured = [ModelInfo(self.default_model, self.provider)]
        if profile.list_models is None or self.unavailable_reason() is not None:
            return configured
        try:
            return await profile.list_models(self._key(profile), self._base_url(profile))
        except Exception as error:
            raise LlmUnavailable(_describe(self.default_model_id, error)) from error

    async def check(self) -> ProviderCheck:
        started = time.perf_counter()
        try:
            await self.complete(
                ModelRequest((PromptMessage(Role.USER, "ping"),), self.default_model_id, 0.0, 1)
            )
        except LlmUnavailable as error:
            return ProviderCheck(False, self.provider, self.default_model, _elapsed(started), error.detail)
        return ProviderCheck(True, self.provider, self.default_model, _elapsed(started))

    async def verify_key(self) -> KeyCheck:
        profile = profile_for(self.provider)
        key = self._key(profile)
        if profile.key_env is None:
            return KeyCheck(True, self.provider, None, f"{self.provider} needs no API key")
        if not key:
            return KeyCheck(False, self.provider, None, f"{profile.key_env} is not set")
        if profile.list_models is None:
            check = await self.check()
            return KeyCheck(check.ok, self.provider, key_hint(key), check.error)
        try:
            await profile.list_models(key, self._base_url(profile))
        except Exception as error:
            status = getattr(error, "status_code", None)
            reason = "the provider rejected the key" if status in (401, 403) else _describe(self.provider, error)
            return KeyCheck(False, self.provider, key_hint(key), reason)
        return KeyCheck(True, self.provider, key_hint(key))

    # --- internals ------------------------------------------------------------------------------------

    def _resolve(self, requested: str | None) -> str:
        provider, name = split_model(requested or self.default_model_id, self.provider)
        return f"{provider}:{name}"

    def _available_model(self, model_id: str) -> BaseChatModel:
        reason = self.unavailable_reason(model_id)
        if reason is not None:
            raise LlmUnavailable(reason)
        try:
            return self._model(model_id)
        except Exception as error:
            raise LlmUnavailable(f"The model {model_id!r} cannot be used: {error}") from error

    def _model(self, model_id: str) -> BaseChatModel:
        model = self._models.get(model_id)
        if model is None:
            provider, _ = split_model(model_id, self.provider)
            profile = profile_for(provider)
            model = self._factory(
                model_id,
                temperature=self._config.temperature,
                timeout=self._config.timeout,
                max_retries=self._config.max_retries,
                **{profile.max_tokens_arg: self._config.max_tokens},
                **init_kwargs(profile, self._key(profile), self._base_url(profile)),
            )
            self._models[model_id] = model
            log.info("chat model ready: %s", model_id)
        return model

    def _call_args(self, model_id: str, request: ModelRequest) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if request.temperature is not None:
            args["temperature"] = request.temperature
        if request.max_tokens is not None:
            args[profile_for(split_model(model_id, self.provider)[0]).max_tokens_arg] = request.max_tokens
        return args

    def _key(self, profile: ProviderProfile) -> str | None:
        return self._config.api_keys.get(profile.name) or env_value(profile.key_env)

    def _base_url(self, profile: ProviderProfile) -> str | None:
        return self._config.base_urls.get(profile.name) or env_value(profile.base_url_env)


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
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    return f"{model_id} could not answer ({kind}{f', HTTP {status}' if status else ''})."


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
