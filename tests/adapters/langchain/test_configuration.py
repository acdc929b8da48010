"""Choosing the provider by configuration alone: settings, legacy names, the container's LlmConfig, Ollama."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from application.ports.chat_model import ModelRequest, PromptMessage
from domain.conversations import Role
from entrypoints.container import llm_config
from entrypoints.settings import Settings

LLM_VARIABLES = (
    "LLM_MODEL",
    "LLM_TEMPERATURE",
    "LLM_MAX_TOKENS",
    "LLM_TIMEOUT",
    "LLM_FALLBACK_MODELS",
    "GROQ_MODEL",
    "GROQ_TEMPERATURE",
    "GROQ_MAX_TOKENS",
    "GROQ_TIMEOUT",
    "GROQ_API_KEY",
    "GROQ_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OLLAMA_BASE_URL",
    "OLLAMA_HOST",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_groq_is_the_default() -> None:
    config = llm_config(Settings())
    assert (config.model, config.temperature, config.max_tokens, config.timeout) == (
        "groq:llama-3.1-8b-instant",
        0.7,
        2000,
        30.0,
    )
    assert config.fallback_models == () and config.api_keys == {}


def test_legacy_groq_variables_are_honoured_when_llm_ones_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "GROQ_MODEL": "llama-3.3-70b-versatile",
        "GROQ_TEMPERATURE": "0.2",
        "GROQ_MAX_TOKENS": "512",
        "GROQ_TIMEOUT": "12",
        "GROQ_API_KEY": "gsk_legacy",
        "GROQ_BASE_URL": "http://groq.internal",
    }.items():
        monkeypatch.setenv(name, value)
    config = llm_config(Settings())
    assert (config.model, config.temperature, config.max_tokens, config.timeout) == (
        "groq:llama-3.3-70b-versatile",
        0.2,
        512,
        12.0,
    )
    assert config.api_keys == {"groq": "gsk_legacy"} and config.base_urls == {"groq": "http://groq.internal"}
    monkeypatch.setenv("LLM_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv("LLM_TIMEOUT", "5")
    config = llm_config(Settings())
    assert (config.model, config.timeout) == ("openai:gpt-4o-mini", 5.0)


def test_openai_compatible_and_ollama_settings_and_fallbacks(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "LLM_MODEL=openai:qwen2.5-7b\n"
        "OPENAI_BASE_URL=http://127.0.0.1:8080/v1\n"
        "OPENAI_API_KEY=sk-from-dotenv\n"
        "OLLAMA_BASE_URL=http://gpu-box:11434\n"
        "LLM_FALLBACK_MODELS=groq:llama-3.1-8b-instant, ollama:llama3.2\n"
    )
    config = llm_config(Settings())
    assert config.model == "openai:qwen2.5-7b"
    assert config.fallback_models == ("groq:llama-3.1-8b-instant", "ollama:llama3.2")
    assert config.api_keys == {"openai": "sk-from-dotenv"}
    assert config.base_urls == {"openai": "http://127.0.0.1:8080/v1", "ollama": "http://gpu-box:11434"}
    model = LangChainChatModel(config)._model("openai:qwen2.5-7b")
    assert isinstance(model, ChatOpenAI) and model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.stream_usage is True and model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-from-dotenv"


def test_ollama_gets_its_own_parameter_names() -> None:
    adapter = LangChainChatModel(
        LlmConfig("ollama:llama3.2", max_tokens=321, timeout=7, base_urls={"ollama": "http://gpu-box:11434"})
    )
    assert adapter.unavailable_reason() is None
    model = adapter._model(adapter.default_model_id)
    assert isinstance(model, ChatOllama)
    assert (model.model, model.num_predict, model.base_url) == ("llama3.2", 321, "http://gpu-box:11434")
    assert model._async_client._client.timeout.read == 7
    request = ModelRequest((PromptMessage(Role.USER, "hi"),), None, 0.1, 50)
    variant = adapter._variant(adapter.default_model_id, request)
    assert isinstance(variant, ChatOllama) and (variant.num_predict, variant.temperature) == (50, 0.1)
    assert variant._async_client is model._async_client  # the agent's copy shares the connection pool
