"""Recording a turn's reply: its final state whichever way the turn ended, and the text so far while it streams.

The assistant's reply is stored before the model is called as an empty `interrupted` message and updated
when the turn ends, so a process that dies mid-answer leaves a truthful record rather than none; while a reply
streams, the text so far is also saved every `stream_save_seconds` (at most one save in flight, the final
write after it), so a crash keeps what the visitor saw up to about one interval before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from application.limits import ChatAdmission
from application.ports.chat_model import ModelRequest
from application.ports.conversations import ConversationRepository
from application.prompt import estimate_tokens
from application.turn_tracker import TurnTracker
from domain.agents import Agent
from domain.conversations import Message, MessageStatus
from domain.errors import CentralitaError
from domain.knowledge import Source
from domain.usage import Usage

log = logging.getLogger("centralita.chat")


@dataclass(frozen=True, slots=True)
class TurnSetup:
    """What steps 1–4 established for one turn."""

    agent: Agent
    reply: Message  # the stored placeholder of the assistant's reply
    sources: tuple[Source, ...]
    model_request: ModelRequest
    session_id: str = ""


class ReplyRecorder:
    """Writes the final state of a turn's reply, whichever way the turn ended, and charges its tokens."""

    def __init__(
        self, conversations: ConversationRepository, admission: ChatAdmission | None, tracker: TurnTracker
    ) -> None:
        self._conversations = conversations
        self._admission = admission
        self._tracker = tracker

    async def finish(
        self,
        turn: TurnSetup,
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
        await self._tracker.shielded(
            self._record(turn, final, usage, after)
        )  # a cancellation: recorded still
        return final

    async def _record(
        self, turn: TurnSetup, final: Message, usage: Usage | None, after: asyncio.Task[Any] | None
    ) -> None:
        if after is not None:
            with suppress(Exception):  # a failed partial save was logged; the final write goes on
                await after
        await self._conversations.update_message(final)
        await self._charge(turn, final.content, usage)

    async def _charge(self, turn: TurnSetup, content: str, usage: Usage | None) -> None:
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
        self, turn: TurnSetup, content: str, status: MessageStatus, after: asyncio.Task[Any] | None = None
    ) -> None:
        """Record a reply while the turn is torn down; a store fault is logged, not raised."""
        try:
            await self.finish(turn, content, status, after=after)
        except asyncio.CancelledError:
            pass  # cancelled again (anyio cancel scopes repeat it): the shielded write goes on regardless
        except CentralitaError:
            log.warning("could not record the %s reply %s", status.value, turn.reply.id)


class PartialSaves:
    """Saves a streaming reply's text so far (still `interrupted`) at most every `interval` seconds.

    A save runs as an unawaited task so the stream never waits for the store; while one is in flight, or
    before the interval has passed, a timer retries later, so text followed by a pause is saved too. `close`
    stops the saves and returns the one in flight, which the final write waits for.
    """

    def __init__(
        self,
        conversations: ConversationRepository,
        tracker: TurnTracker,
        turn: TurnSetup,
        interval: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._conversations = conversations
        self._tracker = tracker
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
        task = self._tracker.spawn(self._conversations.update_message(partial))
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
