"""Agent management routes (admin)."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import JSONBody

from application.agents import AgentService
from application.paging import Page
from domain.audit import Actor
from domain.bounds import DEFAULT_LIMIT
from entrypoints.http.errors import on_agent_validation_error
from entrypoints.http.schemas import (
    AgentBody,
    AgentIdParam,
    AgentOut,
    AgentPatchBody,
    Limit,
    Offset,
    agent_out,
)
from entrypoints.http.security import admin_guard


class AgentController(Controller):
    path = "/api/v1/agents"
    tags = ["agents"]
    guards = [admin_guard]
    exception_handlers = {ValidationException: on_agent_validation_error}

    @get("/", summary="List agents")
    async def list_agents(
        self,
        agents: NamedDependency[AgentService],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> list[AgentOut]:
        return [agent_out(a) for a in await agents.list(Page(limit, offset))]

    @post("/", summary="Create an agent")
    async def create_agent(
        self, data: JSONBody[AgentBody], agents: NamedDependency[AgentService], actor: NamedDependency[Actor]
    ) -> AgentOut:
        return agent_out(await agents.create(data.to_spec(), actor))

    @get("/{agent_id:int}", summary="Read an agent")
    async def get_agent(self, agent_id: AgentIdParam, agents: NamedDependency[AgentService]) -> AgentOut:
        return agent_out(await agents.get(agent_id))

    @put("/{agent_id:int}", summary="Replace an agent's fields")
    async def replace_agent(
        self,
        agent_id: AgentIdParam,
        data: JSONBody[AgentBody],
        agents: NamedDependency[AgentService],
        actor: NamedDependency[Actor],
    ) -> AgentOut:
        return agent_out(await agents.replace(agent_id, data.to_spec(), actor))

    @patch("/{agent_id:int}", summary="Change some of an agent's fields")
    async def patch_agent(
        self,
        agent_id: AgentIdParam,
        data: JSONBody[AgentPatchBody],
        agents: NamedDependency[AgentService],
        actor: NamedDependency[Actor],
    ) -> AgentOut:
        return agent_out(await agents.patch(agent_id, data.changes(), actor))

    @delete("/{agent_id:int}", summary="Delete an agent (its conversations stay on record)")
    async def delete_agent(
        self, agent_id: AgentIdParam, agents: NamedDependency[AgentService], actor: NamedDependency[Actor]
    ) -> None:
        await agents.delete(agent_id, actor)
