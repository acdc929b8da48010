"""Litestar dependencies: plain typed functions that hand out the container's use cases.

Litestar does not understand dependency-injector's `Provide[...]` markers, so each use case gets a small
function registered with Litestar's `Provide` (see STYLE.md).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from application.agents import AgentService
from application.audit import Auditor
from application.conversations import ConversationQueries
from application.diagnostics import Diagnostics
from application.knowledge import KnowledgeService
from application.live_chat import ChatTurns
from domain.audit import Actor
from entrypoints.container import Container
from entrypoints.http.client_address import client_address
from entrypoints.http.request_id import request_id


def _container(state: State) -> Container:
    container: Container = state.container
    return container


def provide_chat_turns(state: State) -> ChatTurns:
    return _container(state).chat_turns()


def provide_agents(state: State) -> AgentService:
    return _container(state).agent_service()


def provide_queries(state: State) -> ConversationQueries:
    return _container(state).conversation_queries()


def provide_knowledge(state: State) -> KnowledgeService:
    return _container(state).knowledge_service()


def provide_diagnostics(state: State) -> Diagnostics:
    return _container(state).diagnostics()


def provide_audit(state: State) -> Auditor:
    return _container(state).auditor()


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """Who is asking, for the audit log: the trusted client address and this request's id."""
    return Actor(client_address(request), request_id.get())


DEPENDENCIES = {
    "chat_turns": Provide(provide_chat_turns, sync_to_thread=False),
    "agents": Provide(provide_agents, sync_to_thread=False),
    "queries": Provide(provide_queries, sync_to_thread=False),
    "diagnostics": Provide(provide_diagnostics, sync_to_thread=False),
    "knowledge": Provide(provide_knowledge, sync_to_thread=False),
    "audit": Provide(provide_audit, sync_to_thread=False),
    "actor": Provide(provide_actor, sync_to_thread=False),
}
