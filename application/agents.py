"""Agent management: what operators do to the assistants.

Every change that succeeds is recorded in the audit log with the `Actor` the entrypoint passes
(application/audit.py says why the use case records it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from application.audit import Auditor
from application.paging import Page
from application.ports.agents import AgentRepository
from application.ports.chat_model import ChatModel
from application.ports.knowledge import KnowledgeStore
from domain.agents import DEFAULT_AGENT, Agent, AgentSpec
from domain.audit import Actor, AuditAction, agent_entry
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.errors import AgentNotFound, InvalidAgent

DEFAULT_AGENT_ID = 1


class AgentService:
    def __init__(
        self,
        agents: AgentRepository,
        knowledge: KnowledgeStore | None = None,
        clock: Callable[[], datetime] = utc_now,
        audit: Auditor | None = None,
        models: ChatModel | None = None,
    ) -> None:
        self._agents = agents
        self._models = models
        self._knowledge = knowledge
        self._clock = clock
        self._audit = audit

    async def ensure_default(self) -> Agent:
        """A fresh install answers as agent 1, a general assistant."""
        return await self._agents.ensure(DEFAULT_AGENT_ID, DEFAULT_AGENT, self._clock())

    async def create(self, spec: AgentSpec, actor: Actor | None = None) -> Agent:
        agent = await self._agents.add(self._usable(spec.validated()), self._clock())
        await self._record(AuditAction.AGENT_CREATED, agent.id, None, agent, actor)
        return agent

    async def get(self, agent_id: int) -> Agent:
        agent = await self._agents.get(validate_agent_id(agent_id))
        if agent is None:
            raise AgentNotFound(agent_id)
        return agent

    async def list(self, page: Page) -> list[Agent]:
        return await self._agents.list(page.limit, page.offset)

    async def replace(self, agent_id: int, spec: AgentSpec, actor: Actor | None = None) -> Agent:
        """PUT: every field from `spec` (omitted ones take their defaults)."""
        current = await self.get(agent_id)
        updated = await self._save(
            replace(current, spec=self._usable(spec.validated()), updated_at=self._clock())
        )
        await self._record(AuditAction.AGENT_REPLACED, agent_id, current, updated, actor)
        return updated

    async def patch(self, agent_id: int, changes: dict[str, Any], actor: Actor | None = None) -> Agent:
        """PATCH: only the fields given."""
        current = await self.get(agent_id)
        changed = current.with_changes(changes, self._clock())
        updated = await self._save(replace(changed, spec=self._usable(changed.spec)))
        await self._record(AuditAction.AGENT_UPDATED, agent_id, current, updated, actor)
        return updated

    async def delete(self, agent_id: int, actor: Actor | None = None) -> None:
        """Remove the agent and its knowledge; its conversations stay on record under its (never reused) id."""
        # Read first only when auditing: the entry keeps what the agent was (prompt summarized).
        validate_agent_id(agent_id)
        current = await self._agents.get(agent_id) if self._audit is not None else None
        if not await self._agents.delete(agent_id):
            raise AgentNotFound(agent_id)
        if self._knowledge is not None:
            await self._knowledge.delete_agent(agent_id)
        await self._record(AuditAction.AGENT_DELETED, agent_id, current, None, actor)

    async def _record(
        self,
        action: AuditAction,
        agent_id: int,
        before: Agent | None,
        after: Agent | None,
        actor: Actor | None,
    ) -> None:
        if self._audit is not None:
            await self._audit.record(agent_entry(action, agent_id, before, after, actor, self._audit.now()))

    def _usable(self, spec: AgentSpec) -> AgentSpec:
        """`spec` when its model can be built here; an agent no visitor could get an answer from is refused."""
        problem = spec.model and self._models and self._models.model_problem(spec.model)
        if problem:
            raise InvalidAgent(f"model cannot be used: {problem}")
        return spec

    async def _save(self, agent: Agent) -> Agent:
        if not await self._agents.save(agent):
            raise AgentNotFound(agent.id)  # deleted meanwhile
        return agent
