"""The turn pipeline for every channel (PRODUCT.md, "One chat turn" and "Live conversations").

Entrypoints (REST, SSE, the WebSocket, later WhatsApp and the operator console) only decode a request, call
`ChatTurns` and encode what comes back. A turn:

0. is admitted (rate limits and quotas, `ChatAdmission`) — every request counts, refused ones too;
1–2. is accepted (`ChatService.accept`): the visitor's message is stored and published to the conversation's
   feed as `visitor_message`;
3–5. runs as a task of the service, not of the connection that asked: its events (`start`, `sources`, token
   pieces grouped by `token_pacing`, `end` or `error`) are appended to the feed, and every connection of the
   conversation — the sender's, a second tab's, another host's — follows the feed. A reply whose client left
   goes on (unless `on_disconnect` is `cancel`), bounded by the model's `max_tokens` and timeout.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.chat import AcceptedTurn, ChatAnswer, ChatRequest, ChatService
from application.conversation_events import ERROR, error_fields, turn_event, visitor_message
from application.events import SourcesFound, TokenProduced, TurnEnded, TurnFailed, TurnStarted
from application.limits import ChatAdmission
from application.ports.conversations import ConversationRepository
from application.ports.feed import ConversationFeed, FeedEvent
from application.token_pacing import paced
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.conversations import conversation_id_for
from domain.errors import CentralitaError, ReplyInterrupted
from domain.knowledge import Source
from domain.visitors import validate_session_id

log = logging.getLogger("centralita.chat")


@dataclass(frozen=True, slots=True)
class LiveLimits:
    token_interval: float = 0.1  # at most ~10 token events a second per reply
    on_disconnect: str = "continue"  # or "cancel": a reply stops when the connection that asked for it leaves


class LiveTurn:
    """A turn the service runs. Its events reach clients through the conversation's feed; this handle tells
    the channel that started it when the answer started (or failed before) and how it ended."""

    def __init__(self, accepted: AcceptedTurn, visitor_event_id: int) -> None:
        self.conversation_id = accepted.conversation_id
        self.message_id = accepted.reply.id  # the reply's id
        self.question_id = accepted.question.id
        self.visitor_event_id = visitor_event_id
        self.agent_id = accepted.agent.id
        loop = asyncio.get_running_loop()
        self._started: asyncio.Future[None] = loop.create_future()
        self._result: asyncio.Future[ChatAnswer] = loop.create_future()
        self.task: asyncio.Task[None] | None = None
        for future in (self._started, self._result):  # an outcome nobody asks for is not an error to log
            future.add_done_callback(_retrieve)

    async def started(self) -> None:
        """Returns once `start` is published; raises the error that ended the turn before it."""
        await asyncio.shield(self._started)

    async def result(self) -> ChatAnswer:
        """The whole answer once the turn ended; raises the error that ended it."""
        return await asyncio.shield(self._result)

    def done(self) -> bool:
        return self._result.done()

    def cancel(self) -> None:
        """Stop the answer (stored `interrupted`)."""
        if self.task is not None:
            self.task.cancel()

    def add_done_callback(self, callback: Callable[[asyncio.Future[ChatAnswer]], None]) -> None:
        self._result.add_done_callback(callback)

    def _start(self) -> None:
        if not self._started.done():
            self._started.set_result(None)

    def _end(self, answer: ChatAnswer | None, error: BaseException | None) -> None:
        for future in (self._started, self._result):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif future is self._result:
                assert answer is not None
                self._result.set_result(answer)
            else:
                self._started.set_result(None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class ChatTurns(ABC):
    """The chat use case every channel calls (decorated by the metrics adapter)."""

    @abstractmethod
    async def submit(self, request: ChatRequest, *, whole: bool = False) -> LiveTurn:
        """Admit and accept a visitor's message (errors here are the request's own: invalid input, unknown
        agent, rate limits) and start its answer as a task; `whole` asks the model for the answer at once."""

    @abstractmethod
    async def admit(self, session_id: str | None, address: str | None) -> None:
        """Count a chat request that will not reach a turn (malformed); raises TooManyRequests over a limit."""

    @abstractmethod
    async def conversation_of(self, session_id: str, agent_id: int) -> str:
        """The id of the conversation of this visitor with this agent, existing or to be."""

    @abstractmethod
    def follow(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        """The conversation's events after `after_event_id`, then live (ResumeGap when no longer kept)."""

    @abstractmethod
    async def newest_event_id(self, conversation_id: str) -> int:
        """The newest event_id of the conversation (0 when none)."""

    @property
    @abstractmethod
    def on_disconnect(self) -> str:
        """`continue` or `cancel`: what a reply does when the connection that asked for it leaves."""

    @abstractmethod
    async def drain(self, seconds: float) -> int:
        """At shutdown: wait for the turns in flight to record their replies; returns how many did not."""

    async def answer(self, request: ChatRequest) -> ChatAnswer:
        """A whole answer (REST); the turn still runs on if the caller leaves."""
        turn = await self.submit(request, whole=True)
        try:
            return await turn.result()
        except asyncio.CancelledError:
            if self.on_disconnect == "cancel":
                turn.cancel()
            raise


class LiveChat(ChatTurns):
    def __init__(
        self,
        chat: ChatService,
        feed: ConversationFeed,
        conversations: ConversationRepository,
        limits: LiveLimits,
        admission: ChatAdmission | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._chat = chat
        self._feed = feed
        self._conversations = conversations
        self._limits = limits
        self._admission = admission
        self._clock = clock
        self._tracker = chat.tracker
        self._running: set[LiveTurn] = set()  # answers being produced by this process

    @property
    def on_disconnect(self) -> str:
        return self._limits.on_disconnect

    async def admit(self, session_id: str | None, address: str | None) -> None:
        if self._admission is not None:
            await self._admission.admit(session_id, address)

    async def submit(self, request: ChatRequest, *, whole: bool = False) -> LiveTurn:
        await self.admit(request.session_id, request.address)  # step 0
        accepted = await self._chat.accept(request)
        kind, data = visitor_message(accepted.question)
        event = await self._tracker.shielded(
            self._feed.append(accepted.conversation_id, kind, data, self._clock())
        )
        turn = LiveTurn(accepted, event.event_id)
        turn.task = self._tracker.spawn(self._run(turn, accepted, whole))
        self._running.add(turn)
        turn.task.add_done_callback(lambda _: self._running.discard(turn))
        return turn

    async def conversation_of(self, session_id: str, agent_id: int) -> str:
        session_id = validate_session_id(session_id)
        agent_id = validate_agent_id(agent_id)
        found = await self._conversations.find(session_id=session_id, agent_id=agent_id, limit=1, offset=0)
        return found[0].id if found else conversation_id_for(session_id, agent_id)

    def follow(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        return self._feed.subscribe(conversation_id, after_event_id)

    async def newest_event_id(self, conversation_id: str) -> int:
        return await self._feed.last_event_id(conversation_id)

    async def drain(self, seconds: float) -> int:
        """Answers still running after `seconds` are stopped (stored `interrupted`, their clients told)."""
        unfinished = await self._chat.drain(seconds)
        if unfinished and self._running:
            log.warning("stopping %d answer(s) still running at shutdown", len(self._running))
            for turn in list(self._running):
                turn.cancel()
            unfinished = await self._chat.drain(2.0)
        return unfinished

    async def _run(self, turn: LiveTurn, accepted: AcceptedTurn, whole: bool) -> None:
        try:
            async with self._tracker.turn():
                setup = await self._chat.prepare(accepted)
                if whole:
                    answer = await self._chat.complete(setup)
                    await self._publish_whole(turn, answer)
                    turn._end(answer, None)
                    return
                stream = await self._chat.stream(setup)
                async with aclosing(paced(stream.events(), self._limits.token_interval)) as events:
                    async for event in events:
                        await self._publish(turn, *turn_event(event, turn.message_id))
                        if isinstance(event, TurnStarted):
                            turn._start()
                        elif isinstance(event, TurnEnded):
                            turn._end(_answer_of(accepted, event, setup.sources), None)
                        elif isinstance(event, TurnFailed):
                            turn._end(None, _failure(event))
        except CentralitaError as error:
            await self._publish_quietly(turn, ERROR, _ended_by(turn, error.code, error.detail))
            turn._end(None, error)
        except asyncio.CancelledError:
            stopped = ReplyInterrupted()
            await self._publish_quietly(turn, ERROR, _ended_by(turn, stopped.code, stopped.detail))
            turn._end(None, stopped)
            raise
        except Exception as error:  # a bug: the turn's clients must still learn that it ended
            log.exception("turn %s failed", turn.message_id)
            await self._publish_quietly(
                turn,
                ERROR,
                _ended_by(turn, "internal_error", "The answer failed."),
            )
            turn._end(None, error)

    async def _publish_whole(self, turn: LiveTurn, answer: ChatAnswer) -> None:
        await self._publish(
            turn, *turn_event(TurnStarted(answer.message_id, answer.conversation_id), turn.message_id)
        )
        turn._start()
        await self._publish(turn, *turn_event(SourcesFound(answer.sources), turn.message_id))
        if answer.answer:
            await self._publish(turn, *turn_event(TokenProduced(answer.answer), turn.message_id))
        end = TurnEnded(answer.message_id, answer.answer, answer.usage, answer.model)
        await self._publish(turn, *turn_event(end, turn.message_id))

    async def _publish(self, turn: LiveTurn, kind: str, data: dict[str, Any]) -> None:
        # Awaited in the turn's own task, not shielded in one of its own: a task per event costs a pass of the
        # event loop each, which under load delayed the first token by a second (the turn task is only
        # cancelled at shutdown or by STREAM_ON_DISCONNECT=cancel, and the reply's record is shielded anyway).
        await self._feed.append(turn.conversation_id, kind, data, self._clock())

    async def _publish_quietly(self, turn: LiveTurn, kind: str, data: dict[str, Any]) -> None:
        """The last event of a turn torn down: a store fault is logged, not raised."""
        try:
            await self._publish(turn, kind, data)
        except asyncio.CancelledError:
            pass  # cancelled again: the shielded append goes on regardless
        except CentralitaError:
            log.warning("could not publish the end of turn %s", turn.message_id)


def _ended_by(turn: LiveTurn, code: str, detail: str) -> dict[str, Any]:
    """The `error` event that ends a turn: the one error shape, naming the reply it ended."""
    return {**error_fields(code, detail), "message_id": turn.message_id}


def _answer_of(accepted: AcceptedTurn, end: TurnEnded, sources: tuple[Source, ...]) -> ChatAnswer:
    return ChatAnswer(
        answer=end.answer,
        agent_id=accepted.agent.id,
        session_id=accepted.session_id,
        conversation_id=accepted.conversation_id,
        message_id=end.message_id,
        model=end.model,
        sources=sources,
        usage=end.usage,
    )


class TurnError(CentralitaError):
    """A streamed turn that ended with an `error` event (its code and detail)."""

    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.retry_after = retry_after


def _failure(event: TurnFailed) -> TurnError:
    return TurnError(event.code, event.detail, event.retry_after)
