"""The ConversationFeed contract on the in-memory adapter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.memory.feed import MemoryConversationFeed
from application.ports.feed import ConversationFeed
from tests.contracts.feed import ConversationFeedContract, Expire, MakeFeed


class TestMemoryConversationFeed(ConversationFeedContract):
    @pytest.fixture
    def make_feed(self) -> MakeFeed:
        def make(retention: timedelta | None, buffer: int) -> ConversationFeed:
            return MemoryConversationFeed(retention, buffer)

        return make

    @pytest.fixture
    def expire(self) -> Expire:
        async def nothing(now: datetime) -> None:  # events are dropped on append
            return None

        return nothing
