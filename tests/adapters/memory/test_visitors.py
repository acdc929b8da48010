"""The VisitorRepository contract on the in-memory adapter."""

from __future__ import annotations

import pytest

from adapters.memory.visitors import MemoryVisitorRepository
from tests.contracts.visitors import VisitorRepositoryContract


class TestMemoryVisitors(VisitorRepositoryContract):
    """MemoryVisitorRepository passes the visitors contract."""

    @pytest.fixture
    def repository(self) -> MemoryVisitorRepository:
        return MemoryVisitorRepository()
