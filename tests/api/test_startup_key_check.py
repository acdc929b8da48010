"""With a key set, startup checks it once in the background and logs the outcome, never the key."""

from __future__ import annotations

import logging
import time

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from application.ports.chat_model import KeyCheck
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel


class RejectedKeyModel(ScriptedChatModel):
    async def verify_key(self) -> KeyCheck:
        return KeyCheck(False, self.provider, "****wxyz", "the provider rejected the key")


def key_check_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in caplog.records if r.getMessage().startswith("LLM key check")]
        if found:
            return found
        time.sleep(0.02)
    return []


@pytest.mark.parametrize(
    ("model", "level", "words"),
    [
        (ScriptedChatModel(), logging.INFO, "fake accepted the key ****abcd"),
        (RejectedKeyModel(), logging.WARNING, "fake did not accept the key ****wxyz"),
    ],
)
def test_the_key_is_checked_once_in_the_background(
    caplog: pytest.LogCaptureFixture, model: ScriptedChatModel, level: int, words: str
) -> None:
    settings = Settings(_env_file=None, STORAGE="memory")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    caplog.set_level(logging.INFO, logger="centralita")
    with TestClient(create_app(settings, container)) as client:
        assert client.get("/health").status_code == 200
        [line] = key_check_lines(caplog)
    assert line.levelno == level and words in line.getMessage()


def test_no_key_means_no_check(caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedChatModel()
    model.unavailable = "set GROQ_API_KEY"
    settings = Settings(_env_file=None, STORAGE="memory")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    caplog.set_level(logging.INFO, logger="centralita")
    with TestClient(create_app(settings, container)) as client:
        client.get("/health")
        time.sleep(0.2)
    assert not [r for r in caplog.records if r.getMessage().startswith("LLM key check")]
