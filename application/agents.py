"""Agent management: what operators do to the assistants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from application.paging import Page
from application.ports.agents import AgentRepository
from application.ports.knowledge import KnowledgeStore
from domain.agents import DEFAULT_AGENT, Agent, AgentSpec
from domain.clock import utc_now
from domain.errors import AgentNotFound

DEFAULT_AGENT_ID = 1


class AgentService:
    def __init__(
        self,
        agents: AgentRepository,
        knowledge: KnowledgeStore | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._agents = agents
        self._knowledge = knowledge
        self._clock = clock

    async def ensure_default(self) -> Agent:
        """A fresh install answers as agent 1, a general assistant."""
        return await self._agents.ensure(DEFAULT_AGENT_ID, DEFAULT_AGENT, self._clock())

    async def create(self, spec: AgentSpec) -> Agent:
        return await self._agents.add(spec.validated(), self._clock())

    async def get(self, agent_id: int) -> Agent:
        agent = await self._agents.get(agent_id)
        if agent is None:
            raise AgentNotFound(agent_id)
        return agent

    async def list(self, page: Page) -> list[Agent]:
        return await self._agents.list(page.limit, page.offset)

    async def replace(self, agent_id: int, spec: AgentSpec) -> Agent:
        """PUT: every field from `spec` (omitted ones take their defaults)."""
        current = await self.get(agent_id)
        updated = replace(current, spec=spec.validated(), updated_at=self._clock())
        return await self._save(updated)

    async def patch(self, agent_id: int, changes: dict[str, Any]) -> Agent:
        """PATCH: only the fields given."""
        current = await self.get(agent_id)
        return await self._save(current.with_changes(changes, self._clock()))

    async def delete(self, agent_id: int) -> None:
        """Remove the agent and its knowledge; its conversations stay on record under its (never reused) id."""
        if not await self._agents.delete(agent_id):
            raise AgentNotFound(agent_id)
        if self._knowledge is not None:
            await self._knowledge.delete_agent(agent_id)

    async def _save(self, agent: Agent) -> Agent:
        if not await self._agents.save(agent):
            raise AgentNotFound(agent.id)  # deleted meanwhile
        return agent
