"""ConversationRepository in process memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from application.ports.conversations import ConversationRepository
from domain.conversations import Conversation, Message, conversation_id_for
from domain.usage import Usage


class MemoryConversationRepository(ConversationRepository):
    """Each method runs without an await, so it is atomic on the event loop."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._by_visitor: dict[tuple[str, int], str] = {}
        self._messages: dict[str, list[Message]] = {}
        self._where: dict[str, tuple[str, int]] = {}  # message id -> (conversation id, index)

    async def open(self, session_id: str, agent_id: int, now: datetime) -> Conversation:
        key = (session_id, agent_id)
        if key not in self._by_visitor:
            conversation = Conversation(
                conversation_id_for(session_id, agent_id), session_id, agent_id, now, now
            )
            self._conversations[conversation.id] = conversation
            self._by_visitor[key] = conversation.id
            self._messages[conversation.id] = []
        return self._conversations[self._by_visitor[key]]

    async def get(self, conversation_id: str) -> Conversation | None:
        return self._conversations.get(conversation_id)

    async def find(
        self, *, session_id: str | None, agent_id: int | None, limit: int, offset: int
    ) -> list[Conversation]:
        found = [
            c
            for c in self._conversations.values()
            if (session_id is None or c.session_id == session_id)
            and (agent_id is None or c.agent_id == agent_id)
        ]
        found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        return found[offset : offset + limit]

    async def append(self, message: Message) -> Message:
        conversation = self._conversations[message.conversation_id]
        messages = self._messages[conversation.id]
        stored = replace(message, seq=len(messages) + 1)
        self._where[stored.id] = (conversation.id, len(messages))
        messages.append(stored)
        self._conversations[conversation.id] = replace(
            conversation,
            message_count=conversation.message_count + 1,
            updated_at=max(conversation.updated_at, message.created_at),
            usage=conversation.usage + (message.usage or Usage()),
        )
        return stored

    async def update_message(self, message: Message) -> None:
        conversation_id, index = self._where[message.id]
        previous = self._messages[conversation_id][index]
        self._messages[conversation_id][index] = replace(
            previous,
            content=message.content,
            status=message.status,
            model=message.model,
            usage=message.usage,
            sources=message.sources,
            error=message.error,
        )
        conversation = self._conversations[conversation_id]
        usage = conversation.usage + (message.usage or Usage()) - (previous.usage or Usage())
        self._conversations[conversation_id] = replace(conversation, usage=usage)

    async def messages(self, conversation_id: str, *, limit: int, offset: int) -> list[Message]:
        return self._messages.get(conversation_id, [])[offset : offset + limit]

    async def recent(self, conversation_id: str, limit: int) -> list[Message]:
        return self._messages.get(conversation_id, [])[-limit:] if limit > 0 else []
