"""How the ChatModel port talks to any LangChain chat provider (`init_chat_model`, ChatGroq by default):
which models it uses, built once with their keys and base URLs, and how it lists them and checks the provider
and its key.

Trying one model after another under deadlines is `attempts.py` (a streamed answer: `streamed_answer.py`);
messages, usage and model names are `messages.py`; what a failure is called is `failures.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain.chat_models import base as chat_models_base
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel

from adapters.langchain.attempts import Attempts
from adapters.langchain.failures import describe, key_rejected, rejected_key_advice
from adapters.langchain.messages import split_model
from adapters.langchain.providers import (
    PROFILES,
    ProviderProfile,
    env_value,
    init_kwargs,
    key_hint,
    profile_for,
)
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
from domain.bounds import MAX_REPLY_CHARS
from domain.conversations import Role
from domain.errors import LlmKeyRejected, LlmUnavailable

log = logging.getLogger("centralita.llm")

ModelFactory = Callable[..., BaseChatModel]


@dataclass(frozen=True, slots=True)
class LlmConfig:
    model: str  # "provider:model"
    temperature: float = 0.7
    max_tokens: int = 2000
    timeout: float = 30.0
    max_retries: int = 2
    max_reply_chars: int = MAX_REPLY_CHARS  # longer replies are cut (a provider ignoring max_tokens)
    fallback_models: tuple[str, ...] = ()  # "provider:model" (or a bare name on the default provider)
    api_keys: dict[str, str] = field(default_factory=dict)  # provider -> key, over the provider's env var
    base_urls: dict[str, str] = field(default_factory=dict)


class LangChainChatModel(ChatModel):
    """One long-lived LangChain model per `provider:model` in use, built on first need and reused."""

    def __init__(self, config: LlmConfig, factory: ModelFactory = init_chat_model) -> None:
        self._config = config
        self._factory = factory
        self.provider, self.default_model = split_model(config.model, "groq")
        self._fallbacks = tuple(self._resolve(m) for m in config.fallback_models if m.strip())
        self._models: dict[str, BaseChatModel] = {}
        self._providers: tuple[str, ...] | None = None
        self._variants: dict[tuple[str, float | None, int | None], BaseChatModel] = {}
        self._attempts = Attempts(
            config.timeout,
            config.max_retries,
            self._reason,
            self._variant,
            self._profile_of,
            config.max_reply_chars,
        )
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
        return await self._attempts.complete(self._candidates(request.model), request)

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        return self._attempts.stream(self._candidates(request.model), request)

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
            raise LlmUnavailable(describe(self.default_model_id, error, profile.key_env)) from error

    async def check(self) -> ProviderCheck:
        """A one-token answer from the primary model (fallbacks would hide that it is down)."""
        started = time.perf_counter()
        ping = ModelRequest((PromptMessage(Role.USER, "ping"),), self.default_model_id, 0.0, 1)
        try:
            await self._attempts.complete_one(self.default_model_id, ping)
        except LlmUnavailable as error:
            rejected = isinstance(error, LlmKeyRejected)
            return ProviderCheck(
                False, self.provider, self.default_model, _elapsed(started), error.detail, rejected
            )
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
            return KeyCheck(check.ok, self.provider, key_hint(key), check.error, check.rejected)
        try:
            await profile.list_models(key, self._base_url(profile), self._config.timeout)
        except Exception as error:
            if key_rejected(error):
                return KeyCheck(
                    False, self.provider, key_hint(key), rejected_key_advice(profile.key_env), True
                )
            return KeyCheck(False, self.provider, key_hint(key), describe(self.provider, error))
        return KeyCheck(True, self.provider, key_hint(key))

    # --- internals ------------------------------------------------------------------------------------

    def _candidates(self, requested: str | None) -> list[str]:
        """The requested (or default) model, then the fallbacks not already tried."""
        primary = self._resolve(requested)
        return [primary, *(m for m in self._fallbacks if m != primary)]

    def _resolve(self, requested: str | None) -> str:
        provider, name = split_model(requested or self.default_model_id, self.provider)
        return f"{provider}:{name}"

    def _profile_of(self, model_id: str) -> ProviderProfile:
        return profile_for(split_model(model_id, self.provider)[0])

    def _reason(self, model_id: str) -> str | None:
        profile = self._profile_of(model_id)
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
                update[self._profile_of(model_id).max_tokens_arg] = request.max_tokens
            variant = self._model(model_id).model_copy(update=update)
            self._variants[key] = variant
        return variant

    def model_problem(self, model: str) -> str | None:
        model_id = self._resolve(model)
        if not split_model(model_id, self.provider)[1].strip():
            return f"{model!r} names a provider but no model."
        reason = self._reason(model_id) or self._unconfigured(model_id)
        if reason is not None:
            # The server's own provider without its key: every chat fails until it is set, whatever the
            # agent (/ready says so). Another provider without its key: this agent's chats alone would fail.
            return None if split_model(model_id, self.provider)[0] == self.provider else reason
        try:
            self._build(model_id)  # built and dropped: an agent's check caches nothing
        except LlmUnavailable as error:
            return error.detail
        return None

    def _unconfigured(self, model_id: str) -> str | None:
        """A provider without keys that nothing says where it runs (OLLAMA_HOST unset): not set up here."""
        profile = self._profile_of(model_id)
        if profile.key_env is not None or profile.host_env is None:
            return None
        if self._base_url(profile) or env_value(profile.host_env):
            return None
        return f"{profile.name} is not set up on this server: set {profile.host_env} to where it runs."

    def model_providers(self) -> tuple[str, ...]:
        """Every provider LangChain knows of (and ours), kept when `model_problem` accepts it; found once."""
        if self._providers is None:
            known = set(PROFILES) | set(getattr(chat_models_base, "_BUILTIN_PROVIDERS", {})) | {self.provider}
            self._providers = tuple(p for p in sorted(known) if self.model_problem(f"{p}:probe") is None)
        return self._providers

    def _model(self, model_id: str) -> BaseChatModel:
        model = self._models.get(model_id)
        if model is None:
            model = self._build(model_id)
            self._models[model_id] = model
            log.info("chat model ready: %s", model_id)
        return model

    def _build(self, model_id: str) -> BaseChatModel:
        profile = self._profile_of(model_id)
        try:
            return self._factory(
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
            raise LlmUnavailable(f"The model {model_id!r} cannot be used: {type(error).__name__}.") from error

    def _key(self, profile: ProviderProfile) -> str | None:
        return self._config.api_keys.get(profile.name) or env_value(profile.key_env)

    def _base_url(self, profile: ProviderProfile) -> str | None:
        return self._config.base_urls.get(profile.name) or env_value(profile.base_url_env)


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
