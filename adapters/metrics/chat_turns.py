"""The chat use case, measured: each turn counted once by agent, channel (its transport: rest, sse, ws),
outcome (complete, failed with its error code, interrupted) — a decorator around `ChatTurns`, wired in the
container, so neither the use case nor the controllers know about Prometheus.

The agent label is the agent id only once the agent is known to exist, so that a stream of requests for
made-up agent ids cannot create new time series (they count under agent `none`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from adapters.metrics.prometheus import CHAT_TURNS
from application.chat import ChatAnswer, ChatRequest
from application.live_chat import ChatTurns, LiveTurn
from application.ports.feed import FeedEvent
from domain.errors import CentralitaError, ReplyInterrupted

# Errors raised once the agent was loaded: a turn refused with one of them is labelled with its agent.
_AFTER_AGENT = frozenset({"llm_unavailable", "llm_stream_failed", "knowledge_unavailable"})


class MeteredChatTurns(ChatTurns):
    def __init__(self, inner: ChatTurns) -> None:
        self._inner = inner

    async def submit(self, request: ChatRequest, *, whole: bool = False) -> LiveTurn:
        try:
            turn = await self._inner.submit(request, whole=whole)
        except CentralitaError as error:
            agent = str(request.agent_id) if error.code in _AFTER_AGENT else "none"
            CHAT_TURNS.labels(agent, request.transport, "failed", error.code).inc()
            raise
        except Exception:
            CHAT_TURNS.labels("none", request.transport, "failed", "internal").inc()
            raise
        turn.add_done_callback(lambda outcome: _count(str(turn.agent_id), request.transport, outcome))
        return turn

    async def admit(self, session_id: str | None, address: str | None) -> None:
        await self._inner.admit(session_id, address)

    async def conversation_of(self, session_id: str, agent_id: int) -> str:
        return await self._inner.conversation_of(session_id, agent_id)

    def follow(
        self, conversation_id: str, after_event_id: int
    ) -> AbstractAsyncContextManager[AsyncIterator[FeedEvent]]:
        return self._inner.follow(conversation_id, after_event_id)

    async def newest_event_id(self, conversation_id: str) -> int:
        return await self._inner.newest_event_id(conversation_id)

    @property
    def on_disconnect(self) -> str:
        return self._inner.on_disconnect

    async def drain(self, seconds: float) -> int:
        return await self._inner.drain(seconds)


def _count(agent: str, channel: str, outcome: asyncio.Future[ChatAnswer]) -> None:
    error = None if outcome.cancelled() else outcome.exception()
    if error is None and not outcome.cancelled():
        CHAT_TURNS.labels(agent, channel, "complete", "").inc()
    elif isinstance(error, ReplyInterrupted) or outcome.cancelled():
        CHAT_TURNS.labels(agent, channel, "interrupted", "").inc()
    else:
        code = error.code if isinstance(error, CentralitaError) else "internal"
        CHAT_TURNS.labels(agent, channel, "failed", code).inc()
