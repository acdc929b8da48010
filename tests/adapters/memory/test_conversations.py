"""The ConversationRepository contract on the in-memory adapter."""

from __future__ import annotations

import pytest

from adapters.memory.conversations import MemoryConversationRepository
from tests.contracts.conversations import ConversationRepositoryContract


class TestMemoryConversations(ConversationRepositoryContract):
    """MemoryConversationRepository passes the conversations contract."""

    @pytest.fixture
    def repository(self) -> MemoryConversationRepository:
        return MemoryConversationRepository()
