"""A streaming reply's text so far is saved every `stream_save_seconds`, and the final state is written last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from adapters.memory.agents import MemoryAgentRepository
from adapters.memory.conversations import MemoryConversationRepository
from adapters.memory.visitors import MemoryVisitorRepository
from application.agents import AgentService
from application.chat import ChatLimits, ChatRequest, ChatService
from application.events import TokenProduced
from application.ports.chat_model import ModelDelta, ModelRequest
from domain.conversations import Message, MessageStatus
from tests.fakes.chat_model import ScriptedChatModel
from tests.fakes.retriever import FixedRetriever

WORDS = 20
STEP = 0.25  # fake seconds between two tokens
INTERVAL = 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingConversations(MemoryConversationRepository):
    """Keeps every `update_message` write; `save_delay` slows the partial (`interrupted`) ones down."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[Message] = []
        self.save_delay = 0.0

    async def update_message(self, message: Message) -> None:
        if self.save_delay and message.status is MessageStatus.INTERRUPTED:
            await asyncio.sleep(self.save_delay)
        self.writes.append(message)
        await super().update_message(message)


async def build(interval: float) -> tuple[ChatService, RecordingConversations, FakeClock, ScriptedChatModel]:
    agents, conversations, clock, model = (
        MemoryAgentRepository(),
        RecordingConversations(),
        FakeClock(),
        ScriptedChatModel(),
    )
    await AgentService(agents).ensure_default()
    model.answer = " ".join(f"w{n}" for n in range(WORDS))
    limits = ChatLimits(stream_save_seconds=interval)
    chat = ChatService(
        agents, MemoryVisitorRepository(), conversations, FixedRetriever(), model, limits, monotonic=clock
    )
    return chat, conversations, clock, model


async def stored_reply(conversations: RecordingConversations, conversation_id: str) -> Message:
    return (await conversations.messages(conversation_id, limit=10, offset=0))[-1]


async def test_the_text_so_far_is_stored_while_streaming_with_bounded_writes_and_the_final_wins() -> None:
    chat, conversations, clock, _ = await build(INTERVAL)
    stream = await chat.open_stream(ChatRequest(1, "s-saves", "hola"))
    seen: list[str] = []
    partial_seen_mid_stream = ""
    async with aclosing(stream.events()) as events:
        async for event in events:
            if isinstance(event, TokenProduced):
                seen.append(event.content)
                clock.now += STEP
                await asyncio.sleep(0)  # let an unawaited save run
                if len(seen) == WORDS // 2:
                    partial_seen_mid_stream = (
                        await stored_reply(conversations, stream.conversation_id)
                    ).content

    assert partial_seen_mid_stream, "nothing of the reply was stored halfway through the stream"
    assert "".join(seen).startswith(partial_seen_mid_stream)
    partials = [w for w in conversations.writes if w.status is MessageStatus.INTERRUPTED]
    assert 1 <= len(partials) <= WORDS * STEP / INTERVAL + 1
    assert len(conversations.writes) == len(partials) + 1
    final = await stored_reply(conversations, stream.conversation_id)
    assert final.status is MessageStatus.COMPLETE
    assert final.content == "".join(seen)
    assert conversations.writes[-1].status is MessageStatus.COMPLETE


async def test_the_final_write_waits_for_a_slow_save_in_flight() -> None:
    chat, conversations, clock, _ = await build(INTERVAL)
    conversations.save_delay = 0.05
    stream = await chat.open_stream(ChatRequest(1, "s-slow", "hola"))
    async with aclosing(stream.events()) as events:
        async for event in events:
            if isinstance(event, TokenProduced):
                clock.now += STEP  # the save started at the last tokens is still sleeping when the turn ends
    await chat.drain(2)
    assert any(w.status is MessageStatus.INTERRUPTED for w in conversations.writes)
    assert conversations.writes[-1].status is MessageStatus.COMPLETE
    assert (await stored_reply(conversations, stream.conversation_id)).status is MessageStatus.COMPLETE


async def test_zero_interval_writes_the_reply_only_at_the_end() -> None:
    chat, conversations, clock, _ = await build(0)
    stream = await chat.open_stream(ChatRequest(1, "s-off", "hola"))
    async with aclosing(stream.events()) as events:
        async for _ in events:
            clock.now += STEP
            await asyncio.sleep(0)
    assert [w.status for w in conversations.writes] == [MessageStatus.COMPLETE]


class PausingModel(ScriptedChatModel):
    """Streams three pieces, then waits for `go` before the rest (a provider that stalls mid-answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        for piece in ("uno ", "dos ", "tres "):
            yield ModelDelta(piece)
        await self.go.wait()
        yield ModelDelta("cuatro")


async def test_text_followed_by_a_pause_is_saved_within_an_interval() -> None:
    agents, conversations, model = MemoryAgentRepository(), RecordingConversations(), PausingModel()
    await AgentService(agents).ensure_default()
    chat = ChatService(
        agents,
        MemoryVisitorRepository(),
        conversations,
        FixedRetriever(),
        model,
        ChatLimits(stream_save_seconds=0.05),  # the real monotonic clock
    )
    stream = await chat.open_stream(ChatRequest(1, "s-pause", "hola"))
    during_pause = ""
    async with aclosing(stream.events()) as events:
        async for event in events:
            if isinstance(event, TokenProduced) and event.content == "tres ":
                asyncio.get_running_loop().call_later(0.5, model.go.set)
            if isinstance(event, TokenProduced) and event.content == "cuatro":
                during_pause = conversations.writes[-1].content
    assert during_pause == "uno dos tres "
    assert conversations.writes[-1].content == "uno dos tres cuatro"
    assert conversations.writes[-1].status is MessageStatus.COMPLETE
