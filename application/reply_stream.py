"""A turn whose answer is being streamed: the events of PRODUCT.md's "WebSocket stream", the reply recorded
whichever way the stream ends (complete, failed, or interrupted when its consumer leaves)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, suppress

from application.events import SourcesFound, StreamEvent, TokenProduced, TurnEnded, TurnFailed, TurnStarted
from application.ports.chat_model import ModelDelta
from application.replies import PartialSaves, ReplyRecorder, TurnSetup
from application.turn_tracker import TurnTracker
from domain.conversations import MessageStatus
from domain.errors import CentralitaError
from domain.usage import Usage


class ReplyStream:
    """A turn whose answer is being streamed: iterate `events()` once, inside `contextlib.aclosing`."""

    def __init__(
        self,
        replies: ReplyRecorder,
        turn: TurnSetup,
        deltas: AsyncIterator[ModelDelta],
        first: ModelDelta | None,
        tracker: TurnTracker,
        saves: PartialSaves | None = None,
    ) -> None:
        self._tracker = tracker
        self._saves = saves
        self._replies = replies
        self._turn = turn
        self._deltas = deltas
        self._first = first
        self.message_id = turn.reply.id
        self.conversation_id = turn.reply.conversation_id

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        async with self._tracker.turn(), aclosing(self._events()) as events:
            async for event in events:
                yield event

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
