"""One stored conversation as a LangChain chat history (`BaseChatMessageHistory`), async only.

Messages are the ordinary documents of the `messages` collection, written and read through
:class:`MongoConversationRepository`; each carries ``History`` = ``json.dumps(message_to_dict(m))``,
which is read back with ``messages_from_dict``. The same documents are therefore readable by
langchain-mongodb's ``MongoDBChatMessageHistory(..., session_id=<conversation id>,
collection_name="messages", session_id_key="conversation_id", history_key="History",
create_index=False)`` (see docs/storage.md for its ordering caveat). Never write through that class: it
logs and swallows write errors.

The sync API (`messages`, `add_messages`, `clear`) raises NotImplementedError: the async client is
bound to the event loop it runs on, so it cannot be driven from a second, private loop, and blocking
the running loop would stall every other chat. LangChain's async paths (`RunnableWithMessageHistory`
under `ainvoke`/`astream`) only call the async methods.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import AIMessage, BaseMessage, messages_from_dict

from adapters.mongodb.conversations import MongoConversationRepository
from domain.clock import utc_now
from domain.conversations import Message, MessageStatus, Role, new_id
from domain.usage import Usage

_ROLES = {"human": Role.USER, "ai": Role.ASSISTANT, "system": Role.SYSTEM}


class MongoConversationHistory(BaseChatMessageHistory):
    """The messages of conversation `conversation_id` (which must exist: `open` it first).

    `history_size` limits `aget_messages` to the last N messages. Tool and function messages are
    refused (ValueError): a conversation holds only user, assistant and system messages.
    """

    def __init__(
        self,
        conversations: MongoConversationRepository,
        conversation_id: str,
        *,
        history_size: int | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self._conversations = conversations
        self.conversation_id = conversation_id
        self.history_size = history_size
        self._clock = clock

    async def aget_messages(self) -> list[BaseMessage]:
        """The conversation's messages oldest first (the last `history_size` when set)."""
        stored = await self._conversations.history(self.conversation_id, self.history_size)
        return messages_from_dict([json.loads(text) for text in stored])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append in order, each message stored before the next one is sent."""
        for message in messages:
            domain = self._to_domain(message)
            with_id = message.model_copy(update={"id": domain.id})
            await self._conversations.append(domain, langchain_message=with_id)

    async def aclear(self) -> None:
        """Delete the conversation's messages and zero its totals (the conversation stays)."""
        await self._conversations.clear(self.conversation_id)

    # -- sync API: not offered ---------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        self._sync_unsupported("messages", "await aget_messages()")

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        self._sync_unsupported("add_messages", "await aadd_messages(...)")

    def clear(self) -> None:
        self._sync_unsupported("clear", "await aclear()")

    def __str__(self) -> str:
        return f"MongoConversationHistory(conversation_id={self.conversation_id!r})"

    # -- internals ---------------------------------------------------------------------------------

    def _to_domain(self, message: BaseMessage) -> Message:
        role = _ROLES.get(message.type)
        if role is None:
            raise ValueError(
                f"A conversation stores user, assistant and system messages; got a {message.type!r} message."
            )
        usage: Usage | None = None
        model: Any = None
        if isinstance(message, AIMessage):
            if message.usage_metadata is not None:
                metadata = message.usage_metadata
                usage = Usage(metadata["input_tokens"], metadata["output_tokens"], metadata["total_tokens"])
            model = message.response_metadata.get("model_name")
        return Message(
            id=message.id or new_id(),
            conversation_id=self.conversation_id,
            role=role,
            content=message.text,
            created_at=self._clock(),
            status=MessageStatus.COMPLETE,
            model=model if isinstance(model, str) else None,
            usage=usage,
        )

    def _sync_unsupported(self, name: str, instead: str) -> NoReturn:
        raise NotImplementedError(
            f"MongoConversationHistory.{name} is async only: use `{instead}` "
            "(the async MongoDB client cannot be driven from synchronous code)."
        )
