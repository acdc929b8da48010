"""The chat turn (PRODUCT.md, "One chat turn"), step by step; `application/live_chat.py` runs it for every
channel and publishes it to the conversation's feed.

1. Load the agent (AgentNotFound) and the visitor (created on first contact).
2. Store the visitor's message before the model is called.
3. Retrieve the agent's most relevant knowledge chunks.
4. Build the prompt: system prompt, delimited context, history within a token budget, the new message.
5. Call the model and store the reply with its usage, model, sources and status — also when the turn is
   cancelled mid-stream (`interrupted`) or the provider fails (`failed`).

`accept` is steps 1–2, `prepare` steps 3–4, `complete` and `stream` step 5. The writes that must go together —
the visitor's message, its reply placeholder and the visitor's count; the reply's final state — run shielded
from the turn's cancellation (`TurnTracker.shielded`), so they are never half done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from application.limits import ChatAdmission
from application.ports.agents import AgentRepository
from application.ports.chat_model import ChatModel, ModelDelta, ModelRequest
from application.ports.conversations import ConversationRepository
from application.ports.knowledge import KnowledgeRetriever
from application.ports.visitors import VisitorRepository
from application.prompt import PromptBudget, build_prompt
from application.replies import PartialSaves, ReplyRecorder, TurnSetup
from application.reply_stream import ReplyStream
from application.turn_tracker import TurnTracker
from domain.agents import Agent
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.conversations import Message, MessageStatus, Role, new_id, validate_message_text
from domain.errors import AgentNotFound, CentralitaError
from domain.knowledge import Source
from domain.rules import DEFAULT_MAX_MESSAGE_CHARS
from domain.usage import Usage
from domain.visitors import normalize_origin, validate_session_id


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One visitor message. `channel` is where the visitor is (web, api, whatsapp, voice, operator…);
    `transport` how it arrived (rest, sse, ws), for metrics; `address` the client address, for rate limits."""

    agent_id: int
    session_id: str
    message: str
    origin: str | None = None
    channel: str = "api"
    transport: str = "rest"
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    answer: str
    agent_id: int
    session_id: str
    conversation_id: str
    message_id: str
    model: str
    sources: tuple[Source, ...]
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    budget: PromptBudget = field(default_factory=PromptBudget)
    # How often a streaming reply's text so far is saved; 0 = only at the end.
    stream_save_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class AcceptedTurn:
    """Steps 1–2 done: the visitor's message and its reply placeholder are stored."""

    agent: Agent
    question: Message
    reply: Message
    history: tuple[Message, ...]
    session_id: str

    @property
    def conversation_id(self) -> str:
        return self.reply.conversation_id


class ChatService:
    """Answers visitors as an agent, keeping every message."""

    def __init__(
        self,
        agents: AgentRepository,
        visitors: VisitorRepository,
        conversations: ConversationRepository,
        retriever: KnowledgeRetriever,
        model: ChatModel,
        limits: ChatLimits,
        clock: Callable[[], datetime] = utc_now,
        admission: ChatAdmission | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        tracker: TurnTracker | None = None,
    ) -> None:
        self._agents = agents
        self._visitors = visitors
        self._conversations = conversations
        self._retriever = retriever
        self._model = model
        self._limits = limits
        self._clock = clock
        self._monotonic = monotonic
        self.tracker = tracker or TurnTracker()
        self._replies = ReplyRecorder(conversations, admission, self.tracker)

    async def drain(self, seconds: float) -> int:
        """Wait until the turns in flight have recorded their replies (at shutdown, before the store closes).

        Returns how many are still running after `seconds`.
        """
        return await self.tracker.drain(seconds)

    async def answer(self, request: ChatRequest) -> ChatAnswer:
        """Steps 1–5, the answer whole."""
        async with self.tracker.turn():
            return await self.complete(await self.prepare(await self.accept(request)))

    async def open_stream(self, request: ChatRequest) -> ReplyStream:
        """Steps 1–4 and the model's first piece; errors before that are raised, later ones become events."""
        async with self.tracker.turn():
            return await self.stream(await self.prepare(await self.accept(request)))

    async def accept(self, request: ChatRequest) -> AcceptedTurn:
        """Steps 1–2: validate, load the agent, store the visitor's message and its reply placeholder."""
        session_id = validate_session_id(request.session_id)
        text = validate_message_text(request.message, self._limits.max_message_chars)
        origin = normalize_origin(request.origin)
        agent = await self._agents.get(validate_agent_id(request.agent_id))
        if agent is None:
            raise AgentNotFound(request.agent_id)

        now = self._clock()
        conversation = await self._conversations.open(session_id, agent.id, now)
        history = await self._conversations.recent(conversation.id, self._limits.budget.history_messages)
        placeholder = Message(
            new_id(),
            conversation.id,
            Role.ASSISTANT,
            "",
            created_at=now,
            status=MessageStatus.INTERRUPTED,
            model=agent.spec.model or self._model.default_model,
        )
        question = Message(new_id(), conversation.id, Role.USER, text, created_at=now)
        reply = await self.tracker.shielded(self._store_question(question, placeholder, origin, session_id))
        return AcceptedTurn(agent, question, reply, tuple(history), session_id)

    async def prepare(self, accepted: AcceptedTurn) -> TurnSetup:
        """Steps 3–4: retrieve and build the prompt (a retrieval failure records the reply `failed`)."""
        agent = accepted.agent
        try:
            chunks = await self._retriever.retrieve(
                agent.id, accepted.question.content, agent.spec.k_documents, agent.spec.min_score
            )
        except CentralitaError as error:
            draft = TurnSetup(agent, accepted.reply, (), ModelRequest(()), accepted.session_id)
            await self._replies.finish(draft, "", MessageStatus.FAILED, error=error.code)
            raise
        except asyncio.CancelledError:
            draft = TurnSetup(agent, accepted.reply, (), ModelRequest(()), accepted.session_id)
            await self._replies.finish_quietly(draft, "", MessageStatus.INTERRUPTED)
            raise
        messages = build_prompt(
            agent.spec.system_prompt,
            chunks,
            list(accepted.history),
            accepted.question.content,
            self._limits.budget,
        )
        spec = agent.spec
        model_request = ModelRequest(messages, spec.model, spec.temperature, spec.max_tokens)
        return TurnSetup(
            agent, accepted.reply, self._retriever.sources(chunks), model_request, accepted.session_id
        )

    async def complete(self, turn: TurnSetup) -> ChatAnswer:
        """Step 5 for a whole answer."""
        try:
            reply = await self._model.complete(turn.model_request)
        except CentralitaError as error:
            await self._replies.finish(turn, "", MessageStatus.FAILED, error=error.code)
            raise
        except asyncio.CancelledError:
            await self._replies.finish_quietly(turn, "", MessageStatus.INTERRUPTED)
            raise
        stored = await self._replies.finish(
            turn, reply.text, MessageStatus.COMPLETE, reply.model, reply.usage
        )
        return ChatAnswer(
            answer=stored.content,
            agent_id=turn.agent.id,
            session_id=turn.session_id,
            conversation_id=stored.conversation_id,
            message_id=stored.id,
            model=reply.model,
            sources=turn.sources,
            usage=reply.usage,
        )

    async def stream(self, turn: TurnSetup) -> ReplyStream:
        """Step 5 streamed: waits for the model's first piece (a failure before it is raised)."""
        deltas = aiter(self._model.stream(turn.model_request))
        try:
            first: ModelDelta | None = await anext(deltas)
        except StopAsyncIteration:
            first = None
        except CentralitaError as error:
            await self._replies.finish(turn, "", MessageStatus.FAILED, error=error.code)
            raise
        except BaseException:
            await self._replies.finish_quietly(turn, "", MessageStatus.INTERRUPTED)
            raise
        saves = PartialSaves(
            self._conversations, self.tracker, turn, self._limits.stream_save_seconds, self._monotonic
        )
        return ReplyStream(self._replies, turn, deltas, first, self.tracker, saves)

    async def _store_question(
        self, question: Message, placeholder: Message, origin: str, session_id: str
    ) -> Message:
        """Step 2 (run whole): the visitor's message, then its reply placeholder (which a cancelled turn
        leaves `interrupted`), then the visitor's count; returns the stored placeholder."""
        await self._conversations.append(question)
        reply = await self._conversations.append(placeholder)
        await self._visitors.record_message(session_id, origin, question.created_at)
        return reply
