"""`/ready` tells what the app knows of the LLM key: refused by the startup check or by a chat turn, the llm
component is not ready and names the variable to set; a later success makes it ready again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.fake_llm import FakeLLMServer

GOOD = "the-good-key"


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=GOOD, answer_tokens=4).run_in_thread() as server:
        yield server


def app_settings(provider: str, base_url: str, key: str) -> Settings:
    provider_settings: dict[str, Any] = (
        {"GROQ_API_KEY": key, "GROQ_BASE_URL": base_url}
        if provider == "groq"
        else {"LLM_MODEL": "openai:gpt-4o-mini", "OPENAI_API_KEY": key, "OPENAI_BASE_URL": f"{base_url}/v1"}
    )
    return Settings(_env_file=None, STORAGE="memory", LLM_MAX_RETRIES=0, **provider_settings)


def ready_until(client: TestClient, status: int, seconds: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/ready")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.05)


def chat(client: TestClient) -> Any:
    return client.post("/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": "key-test"})


@pytest.mark.parametrize(("provider", "variable"), [("groq", "GROQ_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_a_key_refused_at_startup_makes_the_llm_not_ready_until_a_call_succeeds(
    fake_llm: FakeLLMServer, provider: str, variable: str
) -> None:
    settings = app_settings(provider, str(fake_llm.base_url), "a-wrong-key")
    with TestClient(create_app(settings)) as client:
        llm = ready_until(client, 503)["components"]["llm"]
        assert llm["ok"] is False
        assert "rejected the key" in llm["detail"] and variable in llm["detail"], llm

        refused = chat(client)
        assert refused.status_code == 503 and refused.json()["code"] == "llm_unavailable"
        assert variable in refused.json()["detail"], refused.text
        assert "a-wrong-key" not in refused.text

        fake_llm.api_keys = None  # the provider accepts the key again (e.g. the account was re-enabled)
        assert chat(client).status_code == 200
        assert ready_until(client, 200)["components"]["llm"] == {"ok": True, "kind": llm["kind"]}


def test_a_chat_refused_after_a_good_startup_check_makes_the_llm_not_ready(fake_llm: FakeLLMServer) -> None:
    settings = app_settings("groq", str(fake_llm.base_url), GOOD)
    with TestClient(create_app(settings)) as client:
        assert chat(client).status_code == 200
        ready_until(client, 200)
        fake_llm.api_keys = frozenset({"a-rotated-key"})  # the key was revoked at the provider
        assert chat(client).status_code == 503
        llm = client.get("/ready").json()["components"]["llm"]
        assert llm["ok"] is False and "GROQ_API_KEY" in llm["detail"], llm
