"""A turn cancelled at any await of its setup (the client left) leaves the stores consistent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest

from adapters.memory.agents import MemoryAgentRepository
from adapters.memory.conversations import MemoryConversationRepository
from adapters.memory.visitors import MemoryVisitorRepository
from application.agents import AgentService
from application.chat import ChatLimits, ChatRequest, ChatService
from domain.conversations import MessageStatus, Role
from tests.fakes.chat_model import ScriptedChatModel
from tests.fakes.retriever import FixedRetriever


class Gate:
    """Counts the awaits of the stores; the `block_at`-th one waits until `release` is set."""

    def __init__(self, block_at: int | None) -> None:
        self.block_at = block_at
        self.count = 0
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def point(self) -> None:
        self.count += 1
        if self.count == self.block_at:
            self.reached.set()
            await self.release.wait()


def gated(gate: Gate, target: Any, *names: str) -> None:
    """Wraps `target`'s methods so each awaits the gate before and after its work (sent, and answered)."""

    def wrap(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            await gate.point()
            result = await method(*args, **kwargs)
            await gate.point()
            return result

        return wrapper

    for name in names:
        setattr(target, name, wrap(getattr(target, name)))


async def build(gate: Gate) -> tuple[ChatService, MemoryConversationRepository, MemoryVisitorRepository]:
    agents, visitors, conversations = (
        MemoryAgentRepository(),
        MemoryVisitorRepository(),
        MemoryConversationRepository(),
    )
    await AgentService(agents).ensure_default()
    retriever = FixedRetriever()
    gated(gate, conversations, "open", "recent", "append")
    gated(gate, visitors, "record_message")
    gated(gate, agents, "get")
    gated(gate, retriever, "retrieve")
    chat = ChatService(agents, visitors, conversations, retriever, ScriptedChatModel(), ChatLimits())
    return chat, conversations, visitors


async def answer(chat: ChatService, request: ChatRequest) -> None:
    await chat.answer(request)


async def stream(chat: ChatService, request: ChatRequest) -> None:
    reply = await chat.open_stream(request)
    async with aclosing(reply.events()) as events:
        async for _ in events:
            pass


async def setup_points(turn: Callable[[ChatService, ChatRequest], Awaitable[None]]) -> int:
    """How many gate points one turn passes from its start to its model call."""
    gate = Gate(None)
    chat, _, _ = await build(gate)
    await turn(chat, ChatRequest(1, "s", "hola"))
    return gate.count


@pytest.mark.parametrize("turn", [answer, stream])
async def test_a_turn_cancelled_at_any_await_of_its_setup_leaves_consistent_records(
    turn: Callable[[ChatService, ChatRequest], Awaitable[None]],
) -> None:
    points = await setup_points(turn)
    assert points == 14  # agent, conversation, history, message, visitor, placeholder, retrieval (+ reply)
    for block_at in range(1, points + 1):
        gate = Gate(None)
        chat, conversations, visitors = await build(gate)
        await turn(chat, ChatRequest(1, "s", "primera"))
        gate.count, gate.block_at = 0, block_at
        task = asyncio.create_task(turn(chat, ChatRequest(1, "s", "segunda")))
        await asyncio.wait_for(gate.reached.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.release.set()
        assert await chat.drain(5) == 0, block_at

        [conversation] = await conversations.find(session_id="s", agent_id=1, limit=5, offset=0)
        messages = await conversations.messages(conversation.id, limit=10, offset=0)
        assert conversation.message_count == len(messages), block_at
        assert [m.role for m in messages] == [Role.USER, Role.ASSISTANT] * (len(messages) // 2), block_at
        assert all(m.status is not MessageStatus.COMPLETE for m in messages[3:]), block_at
        visitor = await visitors.get("s")
        assert visitor is not None and visitor.message_count == len(messages) // 2, block_at
