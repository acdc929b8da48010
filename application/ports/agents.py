"""Port: where agents are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from domain.agents import Agent, AgentSpec


class AgentRepository(ABC):
    """Stores agents under integer ids that are never reused."""

    @abstractmethod
    async def add(self, spec: AgentSpec, now: datetime) -> Agent:
        """Store a new agent under the next free id and return it."""

    @abstractmethod
    async def ensure(self, agent_id: int, spec: AgentSpec, now: datetime) -> Agent:
        """Return agent `agent_id`, creating it from `spec` if it does not exist (seeding a fresh install)."""

    @abstractmethod
    async def get(self, agent_id: int) -> Agent | None:
        """The agent, or None when there is no such id."""

    @abstractmethod
    async def list(self, limit: int, offset: int) -> list[Agent]:
        """Agents ordered by id."""

    @abstractmethod
    async def save(self, agent: Agent) -> bool:
        """Replace a stored agent; False when it does not exist (nothing is created)."""

    @abstractmethod
    async def delete(self, agent_id: int) -> bool:
        """Remove an agent; False when it did not exist."""
