"""What differs between LangChain chat providers: key and URL variables, constructor arguments, model listing.

Any provider `init_chat_model` knows works with the generic profile (its partner package installed, its key
in the variable its integration reads); the profiles below only add what a provider needs beyond that.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from application.ports.chat_model import ModelInfo

ModelLister = Callable[[str | None, str | None, float], Awaitable[list[ModelInfo]]]

# An OpenAI-compatible server on a base URL of the operator's (llama.cpp, vLLM, LM Studio) usually checks no
# key, but the openai SDK refuses to start without one: this stands in when OPENAI_API_KEY is unset.
LOCAL_SERVER_KEY = "not-needed"


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """How one provider is configured and inspected."""

    name: str
    key_env: str | None  # the variable holding the key; None for providers that need none (ollama)
    base_url_env: str | None = None
    max_tokens_arg: str = "max_tokens"
    list_models: ModelLister | None = None
    # The SDK retries 408/409/429/5xx, timeouts and connection errors itself, honouring `retry-after`.
    sdk_retries: bool = True
    # response_metadata keys of the chunk that closes a complete answer; empty = the provider is not checked.
    finish_keys: tuple[str, ...] = ()
    # A base URL makes the key optional (a self-hosted OpenAI-compatible server).
    key_optional_with_base_url: bool = False
    # For a provider without keys: the variable that says where it runs (its integration reads it itself).
    host_env: str | None = None


async def _list_groq(api_key: str | None, base_url: str | None, seconds: float) -> list[ModelInfo]:
    import groq

    async with groq.AsyncGroq(api_key=api_key, base_url=base_url, max_retries=0, timeout=seconds) as client:
        page = await client.models.list()
    return [ModelInfo(m.id, getattr(m, "owned_by", None)) for m in page.data]


async def _list_openai(api_key: str | None, base_url: str | None, seconds: float) -> list[ModelInfo]:
    import openai

    async with openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=seconds
    ) as client:
        page = await client.models.list()
    return [ModelInfo(m.id, getattr(m, "owned_by", None)) for m in page.data]


async def _list_ollama(api_key: str | None, base_url: str | None, seconds: float) -> list[ModelInfo]:
    import ollama

    listing = await ollama.AsyncClient(host=base_url, timeout=seconds).list()
    return [ModelInfo(str(m.model)) for m in listing.models]


PROFILES: dict[str, ProviderProfile] = {
    "groq": ProviderProfile(
        "groq", "GROQ_API_KEY", "GROQ_BASE_URL", list_models=_list_groq, finish_keys=("finish_reason",)
    ),
    "openai": ProviderProfile(
        "openai",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        list_models=_list_openai,
        finish_keys=("finish_reason",),
        key_optional_with_base_url=True,
    ),
    "ollama": ProviderProfile(
        "ollama",
        None,
        None,  # unset, ChatOllama and the ollama client read OLLAMA_HOST themselves
        "num_predict",
        list_models=_list_ollama,
        sdk_retries=False,
        finish_keys=("done_reason",),
        host_env="OLLAMA_HOST",
    ),
    "anthropic": ProviderProfile("anthropic", "ANTHROPIC_API_KEY"),
    "mistralai": ProviderProfile("mistralai", "MISTRAL_API_KEY"),
    "google_genai": ProviderProfile("google_genai", "GOOGLE_API_KEY"),
}


def profile_for(provider: str) -> ProviderProfile:
    """Known providers have a profile; any other LangChain provider works with generic defaults."""
    return PROFILES.get(provider, ProviderProfile(provider, None))


def env_value(name: str | None) -> str | None:
    """A variable's value, None when unset or empty."""
    return (os.environ.get(name) or None) if name else None


def key_hint(key: str | None) -> str | None:
    """Masks all but the last 4 characters (and hides the length)."""
    if not key:
        return None
    return "****" + key[-4:] if len(key) > 8 else "****"


def init_kwargs(
    profile: ProviderProfile,
    api_key: str | None,
    base_url: str | None,
    *,
    temperature: float,
    max_tokens: int,
    timeout: float,
    max_retries: int,
) -> dict[str, Any]:
    """`init_chat_model` arguments for one model; key and URL only where set, so each integration keeps
    reading its own environment otherwise."""
    kwargs: dict[str, Any] = {"temperature": temperature, profile.max_tokens_arg: max_tokens}
    if profile.name == "ollama":
        # ChatOllama has neither `timeout` nor `max_retries` (it would ignore them): the timeout goes to its
        # httpx client, retries are the adapter's (see attempts.py).
        kwargs["client_kwargs"] = {"timeout": timeout}
    elif profile.name == "openai":
        # An httpx.Timeout (unhashable) keeps langchain-openai from sharing one process-wide httpx client per
        # (base_url, timeout): each model owns its client, so no client outlives the event loop it was made in.
        # (ChatGroq needs no such care: the groq SDK gives each model its own client.)
        kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        kwargs["max_retries"] = max_retries
    else:
        kwargs["timeout"] = timeout
        kwargs["max_retries"] = max_retries
    if api_key:
        kwargs["api_key"] = api_key
    elif base_url and profile.key_optional_with_base_url:
        kwargs["api_key"] = LOCAL_SERVER_KEY
    if base_url:
        kwargs["base_url"] = base_url
    if profile.name == "openai":
        kwargs["stream_usage"] = True  # usage in streamed answers too
    return kwargs
