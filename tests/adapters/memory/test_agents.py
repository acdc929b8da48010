"""The AgentRepository contract on the in-memory adapter."""

from __future__ import annotations

import pytest

from adapters.memory.agents import MemoryAgentRepository
from tests.contracts.agents import AgentRepositoryContract


class TestMemoryAgents(AgentRepositoryContract):
    """MemoryAgentRepository passes the agents contract."""

    @pytest.fixture
    def repository(self) -> MemoryAgentRepository:
        return MemoryAgentRepository()
