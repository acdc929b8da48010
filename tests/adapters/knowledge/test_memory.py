from __future__ import annotations

import pytest

from adapters.knowledge.memory import MemoryKnowledgeStore
from tests.contracts.knowledge import KnowledgeStoreContract


class TestMemoryKnowledgeStore(KnowledgeStoreContract):
    @pytest.fixture
    async def store(self) -> MemoryKnowledgeStore:
        store = MemoryKnowledgeStore()
        await store.load()
        return store
