"""The conversation feed is built at startup (by STORAGE) and closed at shutdown, before the store."""

from __future__ import annotations

from dependency_injector import providers
from litestar.testing import TestClient

from adapters.memory.feed import MemoryConversationFeed
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel


class RecordingFeed(MemoryConversationFeed):
    closed = 0

    async def close(self) -> None:
        self.closed += 1
        await super().close()


def test_the_feed_follows_the_settings_and_is_closed_at_shutdown() -> None:
    settings = Settings(_env_file=None, STORAGE="memory", FEED_RETENTION_HOURS=0.5)
    container = build_container(settings)
    assert container.conversation_feed()._retention.total_seconds() == 1800  # type: ignore[attr-defined]
    feed = RecordingFeed()
    container.conversation_feed.override(providers.Object(feed))
    container.chat_model.override(providers.Object(ScriptedChatModel()))
    with TestClient(create_app(settings, container)):
        assert feed.closed == 0
    assert feed.closed == 1
