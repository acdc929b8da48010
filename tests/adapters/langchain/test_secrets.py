"""No key in any log line or diagnostic answer, whatever happens (PRODUCT.md, "Operations")."""

from __future__ import annotations

import logging

import pytest

from application.ports.chat_model import KeyCheck, ModelRequest, PromptMessage
from domain.conversations import Role
from domain.errors import CentralitaError
from tests.adapters.langchain.conftest import BACKUP_KEY, KEY, AdapterFactory
from tests.fakes.fake_llm import FakeLLMServer

REQUEST = ModelRequest((PromptMessage(Role.USER, "hola"),))


async def test_keys_never_reach_logs_or_answers(
    fake: FakeLLMServer, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[object] = []
    good = make_adapter(fallback_models=("openai:gpt-oss-20b",))
    wrong = make_adapter(api_keys={"groq": KEY + "-revoked"}, max_retries=0)
    for adapter in (good, wrong):
        seen += [await adapter.check(), await adapter.verify_key()]
        try:
            seen.append(await adapter.list_models())
            seen.append(await adapter.complete(REQUEST))
            seen.append([d async for d in adapter.stream(REQUEST)])
        except CentralitaError as error:
            seen.append(error.detail)
    fake.set_sticky_fault("unavailable")
    try:
        await make_adapter(max_retries=0).complete(REQUEST)
    except CentralitaError as error:
        seen.append(error.detail)

    checks = [item for item in seen if isinstance(item, KeyCheck)]
    assert [(c.valid, c.key_hint) for c in checks] == [(True, "****6789"), (False, "****oked")]
    text = caplog.text + repr(seen)
    assert "model call failed" in caplog.text  # failures were logged...
    for secret in (KEY, BACKUP_KEY, KEY + "-revoked", KEY[4:], KEY[:-4]):
        assert secret not in text  # ...without the key or most of it
