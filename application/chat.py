"""The chat turn (PRODUCT.md, "One chat turn"), answered whole or streamed.

1. Load the agent (AgentNotFound) and the visitor (created on first contact).
2. Store the visitor's message before the model is called.
3. Retrieve the agent's most relevant knowledge chunks.
4. Build the prompt: system prompt, delimited context, history within a token budget, the new message.
5. Call the model and store the reply with its usage, model, sources and status — also when the client
   leaves mid-stream (`interrupted`) or the provider fails (`failed`).

The assistant's reply is stored before the model is called as an empty `interrupted` message and updated
when the turn ends, so a process that dies mid-answer leaves a truthful record rather than none; while a reply
streams, the text so far is also saved every `stream_save_seconds` (at most one save in flight, the final
write after it), so a crash keeps what the visitor saw up to about one interval before it. The writes
that must go together — the visitor's message, its reply placeholder and the visitor's count; the reply's final
state — run as tasks shielded from the turn's cancellation (a client that leaves), so they are never half done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import aclosing, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from application.events import SourcesFound, StreamEvent, TokenProduced, TurnEnded, TurnFailed, TurnStarted
from application.limits import ChatAdmission
from application.ports.agents import AgentRepository
from application.ports.chat_model import ChatModel, ModelDelta, ModelRequest
from application.ports.conversations import ConversationRepository
from application.ports.knowledge import KnowledgeRetriever
from application.ports.visitors import VisitorRepository
from application.prompt import PromptBudget, build_prompt, estimate_tokens
from domain.agents import Agent
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.conversations import Message, MessageStatus, Role, new_id, validate_message_text
from domain.errors import AgentNotFound, CentralitaError
from domain.knowledge import Source
from domain.usage import Usage
from domain.visitors import normalize_origin, validate_session_id

log = logging.getLogger("centralita.chat")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    agent_id: int
    session_id: str
    message: str
    origin: str | None = None


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
    max_message_chars: int = 4000
    budget: PromptBudget = field(default_factory=PromptBudget)
    # How often a streaming reply's text so far is saved; 0 = only at the end.
    stream_save_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class _Turn:
    """What steps 1–4 established for one turn."""

    agent: Agent
    reply: Message  # the stored placeholder of the assistant's reply
    sources: tuple[Source, ...]
    model_request: ModelRequest
    session_id: str = ""


class _Writes:
    """Store writes that complete even when the turn awaiting them is cancelled.

    Each runs as a task of its own, shielded from the caller's cancellation and kept in `pending` until done,
    so a shutdown can wait for it before closing the store.
    """

    def __init__(self) -> None:
        self.pending: set[asyncio.Task[Any]] = set()

    async def complete(self, write: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(write)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_abandoned_failure)  # nobody awaits its outcome any more
            raise


def _log_abandoned_failure(task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.warning(
            "a store write of a cancelled turn failed: %s", getattr(error, "code", type(error).__name__)
        )


class _ReplyRecorder:
    """Writes the final state of a turn's reply, whichever way the turn ended, and charges its tokens."""

    def __init__(
        self, conversations: ConversationRepository, admission: ChatAdmission | None, writes: _Writes
    ) -> None:
        self._conversations = conversations
        self._admission = admission
        self._writes = writes

    async def finish(
        self,
        turn: _Turn,
        content: str,
        status: MessageStatus,
        model: str | None = None,
        usage: Usage | None = None,
        error: str | None = None,
        after: asyncio.Task[Any] | None = None,
    ) -> Message:
        """Record the reply's final state once `after` (a partial save in flight) is done, so the final wins."""
        final = replace(
            turn.reply,
            content=content,
            status=status,
            model=model or turn.reply.model,
            usage=usage,
            sources=turn.sources,
            error=error,
        )
        await self._writes.complete(self._record(turn, final, usage, after))  # a cancellation: recorded still
        return final

    async def _record(
        self, turn: _Turn, final: Message, usage: Usage | None, after: asyncio.Task[Any] | None
    ) -> None:
        if after is not None:
            with suppress(Exception):  # a failed partial save was logged; the final write goes on
                await after
        await self._conversations.update_message(final)
        await self._charge(turn, final.content, usage)

    async def _charge(self, turn: _Turn, content: str, usage: Usage | None) -> None:
        """Count the turn's tokens against the visitor's daily quota (estimated when the provider gave none)."""
        if self._admission is None:
            return
        if usage is not None:
            tokens = usage.total_tokens
        elif turn.model_request.messages:  # the model was called: its prompt was paid for
            tokens = sum(estimate_tokens(m.content) for m in turn.model_request.messages)
            tokens += estimate_tokens(content) if content else 0
        else:
            tokens = 0
        try:
            await self._admission.charge(turn.session_id, tokens)
        except CentralitaError:
            log.warning("could not count the tokens of reply %s", turn.reply.id)

    async def finish_quietly(
        self, turn: _Turn, content: str, status: MessageStatus, after: asyncio.Task[Any] | None = None
    ) -> None:
        """Record a reply while the turn is torn down; a store fault is logged, not raised."""
        try:
            await self.finish(turn, content, status, after=after)
        except asyncio.CancelledError:
            pass  # cancelled again (anyio cancel scopes repeat it): the shielded write goes on regardless
        except CentralitaError:
            log.warning("could not record the %s reply %s", status.value, turn.reply.id)


class _PartialSaves:
    """Saves a streaming reply's text so far (still `interrupted`) at most every `interval` seconds.

    A save runs as an unawaited task so the stream never waits for the store; while one is in flight, or
    before the interval has passed, a timer retries later, so text followed by a pause is saved too. `close`
    stops the saves and returns the one in flight, which the final write waits for.
    """

    def __init__(
        self,
        conversations: ConversationRepository,
        writes: _Writes,
        turn: _Turn,
        interval: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._conversations = conversations
        self._writes = writes
        self._reply = replace(turn.reply, sources=turn.sources)
        self._interval = interval
        self._monotonic = monotonic
        self._last = monotonic()
        self._parts: list[str] = []
        self._saved = 0  # pieces in the last save
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._in_flight: asyncio.Task[None] | None = None

    def offer(self, parts: list[str]) -> None:
        """Called with the reply's pieces so far (the same list, growing) after each token."""
        self._parts = parts
        if self._interval <= 0 or self._closed or len(parts) == self._saved:
            return
        busy = self._in_flight is not None and not self._in_flight.done()
        now = self._monotonic()
        if busy or now - self._last < self._interval:
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._interval, self._retry)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._last, self._saved = now, len(parts)
        partial = replace(self._reply, content="".join(parts))
        task = asyncio.ensure_future(self._conversations.update_message(partial))
        self._writes.pending.add(task)
        task.add_done_callback(self._writes.pending.discard)
        task.add_done_callback(_log_failed_partial_save)
        self._in_flight = task

    def _retry(self) -> None:
        self._timer = None
        self.offer(self._parts)

    def close(self) -> asyncio.Task[None] | None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return self._in_flight


def _log_failed_partial_save(task: asyncio.Task[None]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.warning(
            "could not save a streaming reply so far: %s", getattr(error, "code", type(error).__name__)
        )


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
    ) -> None:
        self._agents = agents
        self._visitors = visitors
        self._conversations = conversations
        self._retriever = retriever
        self._model = model
        self._limits = limits
        self._clock = clock
        self._monotonic = monotonic
        self._writes = _Writes()
        self._replies = _ReplyRecorder(conversations, admission, self._writes)
        self._in_flight = 0  # turns whose reply is not recorded yet

    async def drain(self, seconds: float) -> int:
        """Wait until the turns in flight have recorded their replies (at shutdown, before the store closes).

        Returns how many are still running after `seconds`.
        """
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self._in_flight or self._writes.pending:  # noqa: ASYNC110 - counters, polled briefly
                    await asyncio.sleep(0.02)
        return self._in_flight + len(self._writes.pending)

    def _turn_ended(self) -> None:
        self._in_flight -= 1

    async def answer(self, request: ChatRequest) -> ChatAnswer:
        """A whole answer (REST)."""
        self._in_flight += 1
        try:
            return await self._answer(request)
        finally:
            self._turn_ended()

    async def _answer(self, request: ChatRequest) -> ChatAnswer:
        turn = await self._begin(request)
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
            session_id=request.session_id,
            conversation_id=stored.conversation_id,
            message_id=stored.id,
            model=reply.model,
            sources=turn.sources,
            usage=reply.usage,
        )

    async def open_stream(self, request: ChatRequest) -> ReplyStream:
        """Steps 1–4 and the model's first piece; errors before that are raised, later ones become events."""
        self._in_flight += 1  # until the stream's events end (ReplyStream calls back)
        try:
            turn = await self._begin(request)
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
        except BaseException:
            self._turn_ended()
            raise
        saves = _PartialSaves(
            self._conversations, self._writes, turn, self._limits.stream_save_seconds, self._monotonic
        )
        return ReplyStream(self._replies, turn, deltas, first, self._turn_ended, saves)

    async def _begin(self, request: ChatRequest) -> _Turn:
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
        reply = await self._writes.complete(self._store_question(question, placeholder, origin, session_id))
        draft = _Turn(agent, reply, (), ModelRequest(()), session_id)
        try:
            chunks = await self._retriever.retrieve(
                agent.id, text, agent.spec.k_documents, agent.spec.min_score
            )
        except CentralitaError as error:
            await self._replies.finish(draft, "", MessageStatus.FAILED, error=error.code)
            raise
        messages = build_prompt(agent.spec.system_prompt, chunks, history, text, self._limits.budget)
        spec = agent.spec
        model_request = ModelRequest(messages, spec.model, spec.temperature, spec.max_tokens)
        return _Turn(agent, reply, self._retriever.sources(chunks), model_request, session_id)

    async def _store_question(
        self, question: Message, placeholder: Message, origin: str, session_id: str
    ) -> Message:
        """Step 2 (run whole, see `_Writes`): the visitor's message, then its reply placeholder (which a
        cancelled turn leaves `interrupted`), then the visitor's count; returns the stored placeholder."""
        await self._conversations.append(question)
        reply = await self._conversations.append(placeholder)
        await self._visitors.record_message(session_id, origin, question.created_at)
        return reply


class ReplyStream:
    """A turn whose answer is being streamed: iterate `events()` once, inside `contextlib.aclosing`."""

    def __init__(
        self,
        replies: _ReplyRecorder,
        turn: _Turn,
        deltas: AsyncIterator[ModelDelta],
        first: ModelDelta | None,
        on_end: Callable[[], None] = lambda: None,
        saves: _PartialSaves | None = None,
    ) -> None:
        self._on_end = on_end
        self._saves = saves
        self._replies = replies
        self._turn = turn
        self._deltas = deltas
        self._first = first
        self.message_id = turn.reply.id
        self.conversation_id = turn.reply.conversation_id

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        try:
            async with aclosing(self._events()) as events:
                async for event in events:
                    yield event
        finally:
            self._on_end()

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        turn = self._turn
        parts: list[str] = []
        usage: Usage | None = None
        model: str | None = None
        failure: CentralitaError | None = None
        try:
            yield TurnStarted(self.message_id, self.conversation_id)
            yield SourcesFound(turn.sources)
            delta = self._first
            while delta is not None:
                if delta.text:
                    parts.append(delta.text)
                    yield TokenProduced(delta.text)
                    if self._saves is not None:
                        self._saves.offer(parts)
                usage = delta.usage or usage
                model = delta.model or model
                try:
                    delta = await anext(self._deltas)
                except StopAsyncIteration:
                    delta = None
                except CentralitaError as error:
                    failure = error
                    delta = None
        except BaseException:  # the consumer left (GeneratorExit) or was cancelled: keep what was said
            await self._close_model()
            await self._replies.finish_quietly(
                turn, "".join(parts), MessageStatus.INTERRUPTED, self._in_flight()
            )
            raise
        await self._close_model()
        text = "".join(parts)
        if failure is not None:
            await self._replies.finish(
                turn, text, MessageStatus.FAILED, model, usage, failure.code, self._in_flight()
            )
            yield TurnFailed(failure.code, failure.detail)
            return
        try:
            stored = await self._replies.finish(
                turn, text, MessageStatus.COMPLETE, model, usage, after=self._in_flight()
            )
        except CentralitaError as error:
            yield TurnFailed(error.code, error.detail)
            return
        yield TurnEnded(stored.id, text, usage, stored.model or "")

    def _in_flight(self) -> asyncio.Task[None] | None:
        """Stops the partial saves; the one still running, for the final write to wait for."""
        return None if self._saves is None else self._saves.close()

    async def _close_model(self) -> None:
        """Close the provider stream so an abandoned answer stops costing tokens."""
        close = getattr(self._deltas, "aclose", None)
        if close is not None:
            with suppress(Exception):
                await close()
