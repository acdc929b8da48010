from __future__ import annotations

from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel()


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None, STORAGE="memory", MAX_MESSAGE_CHARS=500)


@pytest.fixture
def client(settings: Settings, model: ScriptedChatModel) -> Iterator[TestClient]:
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as test_client:
        yield test_client
