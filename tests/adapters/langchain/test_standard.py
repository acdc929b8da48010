"""LangChain's standard suites on the ChatGroq the adapter builds (the integration suite only with a real key)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_groq import ChatGroq
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from adapters.langchain.providers import init_kwargs, profile_for

MODEL = "llama-3.1-8b-instant"


def adapter_params(api_key: str | None) -> dict[str, Any]:
    """The constructor arguments the adapter gives ChatGroq (what init_chat_model receives)."""
    config = LlmConfig(model=f"groq:{MODEL}")
    return {
        "model": MODEL,
        **init_kwargs(
            profile_for("groq"),
            api_key,
            None,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            timeout=config.timeout,
            max_retries=config.max_retries,
        ),
    }


def test_the_adapter_builds_chatgroq_with_those_arguments() -> None:
    adapter = LangChainChatModel(LlmConfig(model=f"groq:{MODEL}", api_keys={"groq": "gsk_unit"}))
    built = adapter._model(adapter.default_model_id)
    assert isinstance(built, ChatGroq)
    expected = ChatGroq(**adapter_params("gsk_unit"))
    for name in ("model_name", "temperature", "max_tokens", "max_retries"):
        assert getattr(built, name) == getattr(expected, name)


class TestAdapterChatGroqUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatGroq

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # The suite passes max_tokens itself (test_standard_params), so the adapter's value would clash.
        return {k: v for k, v in adapter_params("gsk_unit_test_key").items() if k != "max_tokens"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"GROQ_API_KEY": "gsk_from_env"}, {"model": MODEL}, {"groq_api_key": "gsk_from_env"}


LIVE_KEY = os.environ.get("GROQ_API_KEY", "")


@pytest.mark.groq_live
@pytest.mark.skipif(not LIVE_KEY.startswith("gsk_"), reason="needs a real GROQ_API_KEY (gsk_…)")
class TestAdapterChatGroqLive(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatGroq

    @property
    def chat_model_params(self) -> dict[str, Any]:
        params = adapter_params(LIVE_KEY)
        params["base_url"] = os.environ.get("GROQ_BASE_URL") or None
        return params

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True
