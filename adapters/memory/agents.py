"""AgentRepository in process memory (STORAGE=memory: nothing persisted)."""

from __future__ import annotations

from datetime import datetime

from application.ports.agents import AgentRepository
from application.ports.health import ComponentHealth, HealthProbe
from domain.agents import Agent, AgentSpec


class MemoryAgentRepository(AgentRepository, HealthProbe):
    def __init__(self) -> None:
        self._agents: dict[int, Agent] = {}
        self._last_id = 0

    async def add(self, spec: AgentSpec, now: datetime) -> Agent:
        self._last_id += 1
        agent = Agent(self._last_id, spec, now, now)
        self._agents[agent.id] = agent
        return agent

    async def ensure(self, agent_id: int, spec: AgentSpec, now: datetime) -> Agent:
        if agent_id not in self._agents:
            self._agents[agent_id] = Agent(agent_id, spec, now, now)
            self._last_id = max(self._last_id, agent_id)
        return self._agents[agent_id]

    async def get(self, agent_id: int) -> Agent | None:
        return self._agents.get(agent_id)

    async def list(self, limit: int, offset: int) -> list[Agent]:
        return sorted(self._agents.values(), key=lambda a: a.id)[offset : offset + limit]

    async def save(self, agent: Agent) -> bool:
        if agent.id not in self._agents:
            return False
        self._agents[agent.id] = agent
        return True

    async def delete(self, agent_id: int) -> bool:
        return self._agents.pop(agent_id, None) is not None

    async def health(self) -> ComponentHealth:
        return ComponentHealth("store", True, "memory", "nothing is persisted (STORAGE=memory)")
