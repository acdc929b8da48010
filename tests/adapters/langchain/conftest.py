"""Fake Groq/OpenAI servers in threads, and adapters built on them (inside each test's event loop)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from tests.fakes.fake_llm import FakeLLMServer

KEY = "gsk_fake_adapter_key_0123456789"
BACKUP_KEY = "sk-backup-key-9876543210"

AdapterFactory = Callable[..., LangChainChatModel]


@pytest.fixture(scope="module")
def _primary_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=KEY, answer_tokens=8).run_in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def _backup_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=BACKUP_KEY, answer_tokens=5).run_in_thread() as server:
        yield server


@pytest.fixture
def fake(_primary_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The primary provider, clean for each test."""
    _primary_server.reset()
    _primary_server.configure(answer_tokens=8, ttft_ms=0, tokens_per_second=0)
    yield _primary_server
    _primary_server.reset()


@pytest.fixture
def backup(_backup_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """A second provider (spoken to as an OpenAI-compatible server) for fallbacks."""
    _backup_server.reset()
    yield _backup_server
    _backup_server.reset()


@pytest.fixture
def make_adapter(
    fake: FakeLLMServer, backup: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> AdapterFactory:
    """Builds an adapter on the fakes; call it inside the test (one SDK client per event loop)."""
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)

    def build(model: str = "groq:llama-3.1-8b-instant", **overrides: Any) -> LangChainChatModel:
        settings: dict[str, Any] = {
            "timeout": 5.0,
            "max_retries": 1,
            "api_keys": {"groq": KEY, "openai": BACKUP_KEY},
            "base_urls": {"groq": fake.base_url, "openai": f"{backup.base_url}/v1"},
        }
        settings.update(overrides)
        return LangChainChatModel(LlmConfig(model=model, **settings))

    return build
