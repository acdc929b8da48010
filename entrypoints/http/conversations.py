"""Reading conversations, messages and visitors (admin), and a visitor's own history (public)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from application.conversations import ConversationQueries
from application.paging import Page
from domain.bounds import DEFAULT_LIMIT, MAX_LIMIT
from entrypoints.http.cors import LAST_EVENT_ID_HEADER
from entrypoints.http.query import declared_query_only
from entrypoints.http.schemas import (
    AgentIdFilter,
    AgentIdParam,
    ConversationOut,
    Limit,
    MessageOut,
    Offset,
    PublicMessageOut,
    VisitorOut,
    conversation_out,
    message_out,
    public_message_out,
    visitor_out,
)
from entrypoints.http.security import admin_guard

# `limit` means two things on the two message listings, each what its client needs (docs/api.md).
PageLimit = Annotated[
    int,
    Parameter(
        ge=1,
        le=MAX_LIMIT,
        description=f"1 to {MAX_LIMIT}: at most this many messages, counted from the oldest after skipping "
        "`offset`: pages run from the start of the conversation.",
    ),
]
RecentLimit = Annotated[
    int,
    Parameter(
        ge=1,
        le=MAX_LIMIT,
        description=f"1 to {MAX_LIMIT}: the newest this many messages of the conversation, returned oldest "
        "first (what a client restores after a reload).",
    ),
]


class ConversationController(Controller):
    path = "/api/v1"
    tags = ["conversations"]
    guards = [admin_guard]

    @get("/conversations", summary="List conversations, most recent first")
    async def list_conversations(
        self,
        queries: NamedDependency[ConversationQueries],
        session_id: FromQuery[str | None] = None,
        agent_id: AgentIdFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> list[ConversationOut]:
        found = await queries.find(session_id, agent_id, Page(limit, offset))
        return [conversation_out(c) for c in found]

    @get("/conversations/{conversation_id:str}/messages", summary="A conversation's messages, oldest first")
    async def list_messages(
        self,
        conversation_id: FromPath[str],
        queries: NamedDependency[ConversationQueries],
        limit: PageLimit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> list[MessageOut]:
        return [message_out(m) for m in await queries.messages(conversation_id, Page(limit, offset))]

    @get("/visitors/{session_id:str}", summary="A visitor")
    async def get_visitor(
        self, session_id: FromPath[str], queries: NamedDependency[ConversationQueries]
    ) -> VisitorOut:
        return visitor_out(await queries.visitor(session_id))


class HistoryController(Controller):
    """Public like the chat routes: the widget restores a conversation with it after a reload."""

    path = "/api/v1/chat/history"
    tags = ["chat"]
    # It pages by `?limit=` alone (the last N): `?offset=` is refused, not ignored.
    guards = [declared_query_only]

    @get(
        "/{session_id:str}/{agent_id:int}",
        summary="A visitor's own conversation with an agent",
        description="The newest event_id of the conversation is in the `X-Last-Event-Id` header: resume the "
        "stream from it (WebSocket `resume`, SSE `after_event_id`) to miss nothing after this history.",
        response_headers=[
            ResponseHeader(
                name=LAST_EVENT_ID_HEADER,
                description="The conversation's newest event_id (0: none yet).",
                documentation_only=True,
                required=True,
            )
        ],
    )
    async def history(
        self,
        session_id: FromPath[str],
        agent_id: AgentIdParam,
        queries: NamedDependency[ConversationQueries],
        limit: RecentLimit = DEFAULT_LIMIT,
    ) -> Response[list[PublicMessageOut]]:
        history = await queries.visitor_history(session_id, agent_id, limit)
        return Response(
            [public_message_out(m) for m in history.messages],
            headers={LAST_EVENT_ID_HEADER: str(history.event_id)},
        )
