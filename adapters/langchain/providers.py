"""What differs between LangChain chat providers: the key variable, the token-limit argument, model listing."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from application.ports.chat_model import ModelInfo

ModelLister = Callable[[str | None, str | None], Awaitable[list[ModelInfo]]]


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    name: str
    key_env: str | None  # the variable holding the key; None for providers that need none (ollama)
    base_url_env: str | None = None
    max_tokens_arg: str = "max_tokens"
    list_models: ModelLister | None = None


async def _list_groq(api_key: str | None, base_url: str | None) -> list[ModelInfo]:
    import groq

    async with groq.AsyncGroq(api_key=api_key, base_url=base_url, max_retries=0) as client:
        page = await client.models.list()
    return [ModelInfo(m.id, getattr(m, "owned_by", None)) for m in page.data]


async def _list_openai(api_key: str | None, base_url: str | None) -> list[ModelInfo]:
    import openai

    async with openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0) as client:
        page = await client.models.list()
    return [ModelInfo(m.id, getattr(m, "owned_by", None)) for m in page.data]


async def _list_ollama(api_key: str | None, base_url: str | None) -> list[ModelInfo]:
    import ollama

    listing = await ollama.AsyncClient(host=base_url).list()
    return [ModelInfo(str(m.model)) for m in listing.models]


PROFILES: dict[str, ProviderProfile] = {
    "groq": ProviderProfile("groq", "GROQ_API_KEY", "GROQ_BASE_URL", list_models=_list_groq),
    "openai": ProviderProfile("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", list_models=_list_openai),
    "ollama": ProviderProfile("ollama", None, "OLLAMA_HOST", "num_predict", list_models=_list_ollama),
    "anthropic": ProviderProfile("anthropic", "ANTHROPIC_API_KEY"),
    "mistralai": ProviderProfile("mistralai", "MISTRAL_API_KEY"),
    "google_genai": ProviderProfile("google_genai", "GOOGLE_API_KEY"),
}


def profile_for(provider: str) -> ProviderProfile:
    """Known providers have a profile; any other LangChain provider works with generic defaults."""
    return PROFILES.get(provider, ProviderProfile(provider, None))


def env_value(name: str | None) -> str | None:
    return (os.environ.get(name) or None) if name else None


def key_hint(key: str | None) -> str | None:
    """Masks all but the last 4 characters (and hides the length)."""
    if not key:
        return None
    return "****" + key[-4:] if len(key) > 8 else "****"


def init_kwargs(profile: ProviderProfile, api_key: str | None, base_url: str | None) -> dict[str, Any]:
    """Constructor arguments only where set, so each integration keeps reading its own environment."""
    kwargs: dict[str, Any] = {}
    if api_key:
        kwargs["api_key"] = api_key
    if base_url:
        kwargs["base_url"] = base_url
    if profile.name == "openai":
        kwargs["stream_usage"] = True  # usage in streamed answers too
    return kwargs
