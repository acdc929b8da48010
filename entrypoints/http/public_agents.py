"""What a visitor's client may read of an agent (public, like the chat routes).

The widget needs the agent's name, language and greeting before the first turn, but the agent routes are
admin-only and hold the system prompt and model. This route exposes only the fields a widget may show, and
whether the agent can answer now (`available`, with the error code a turn would get otherwise).
"""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from application.agents import AgentService
from application.diagnostics import Diagnostics
from entrypoints.http.schemas import AgentIdParam


class PublicAgentOut(msgspec.Struct):
    """An agent as a visitor may see it: never its system prompt, model or retrieval settings."""

    id: int
    name: str
    language: str
    greeting: str | None
    available: bool  # False while no model can answer (no key configured, key refused): what /ready knows
    unavailable_code: str | None  # then `llm_unavailable`, the code a turn would fail with; never the detail


class PublicAgentController(Controller):
    path = "/api/v1/chat/agents"
    tags = ["chat"]

    @get(
        "/{agent_id:int}",
        summary="What a chat widget may show of an agent (name, language, greeting, whether it can answer)",
    )
    async def public_agent(
        self,
        agent_id: AgentIdParam,
        agents: NamedDependency[AgentService],
        diagnostics: NamedDependency[Diagnostics],
    ) -> PublicAgentOut:
        agent = await agents.get(agent_id)
        spec = agent.spec
        down = diagnostics.llm_problem() is not None
        return PublicAgentOut(
            agent.id, spec.name, spec.language, spec.greeting, not down, "llm_unavailable" if down else None
        )
