"""Reading what was said: conversations, their messages, visitors, and a visitor's own history."""

from __future__ import annotations

from dataclasses import dataclass

from application.paging import Page
from application.ports.agents import AgentRepository
from application.ports.conversations import ConversationRepository
from application.ports.feed import ConversationFeed
from application.ports.visitors import VisitorRepository
from domain.bounds import validate_agent_id
from domain.conversations import Conversation, Message, Role
from domain.errors import AgentNotFound, ConversationNotFound, VisitorNotFound
from domain.visitors import Visitor, validate_session_id


@dataclass(frozen=True, slots=True)
class VisitorHistory:
    """A visitor's own messages, and the newest event_id of the conversation read before them: resuming its
    feed from there misses nothing (an event newer than a message may repeat it; clients key by message id)."""

    messages: list[Message]
    event_id: int


class ConversationQueries:
    def __init__(
        self,
        conversations: ConversationRepository,
        visitors: VisitorRepository,
        agents: AgentRepository,
        feed: ConversationFeed | None = None,
    ) -> None:
        self._conversations = conversations
        self._visitors = visitors
        self._agents = agents
        self._feed = feed

    async def find(self, session_id: str | None, agent_id: int | None, page: Page) -> list[Conversation]:
        if session_id is not None:
            validate_session_id(session_id)
        if agent_id is not None:
            validate_agent_id(agent_id)
        return await self._conversations.find(
            session_id=session_id, agent_id=agent_id, limit=page.limit, offset=page.offset
        )

    async def messages(self, conversation_id: str, page: Page) -> list[Message]:
        if await self._conversations.get(conversation_id) is None:
            raise ConversationNotFound(conversation_id)
        return await self._conversations.messages(conversation_id, limit=page.limit, offset=page.offset)

    async def visitor(self, session_id: str) -> Visitor:
        visitor = await self._visitors.get(validate_session_id(session_id))
        if visitor is None:
            raise VisitorNotFound(session_id)
        return visitor

    async def visitor_history(self, session_id: str, agent_id: int, limit: int) -> VisitorHistory:
        """The last `limit` user and assistant messages of a visitor with an agent, oldest first."""
        validate_session_id(session_id)
        Page(limit=limit)
        if await self._agents.get(validate_agent_id(agent_id)) is None:
            raise AgentNotFound(agent_id)
        matches = await self._conversations.find(session_id=session_id, agent_id=agent_id, limit=1, offset=0)
        if not matches:
            return VisitorHistory([], 0)
        event_id = await self._feed.last_event_id(matches[0].id) if self._feed is not None else 0
        recent = await self._conversations.recent(matches[0].id, limit)
        return VisitorHistory([m for m in recent if m.role in (Role.USER, Role.ASSISTANT)], event_id)
