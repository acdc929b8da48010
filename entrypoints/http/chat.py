"""REST and server-sent-event chat routes, current and legacy (`/api/v1/groq/chat`): decode, call the turn
pipeline (`application/live_chat.py`), encode.

`POST /api/v1/chat/stream` follows the conversation's feed from the visitor's message to the end of its
answer; each event has an `id:` line with its `event_id`. Sent with `Last-Event-ID`, it is a reconnection:
no new turn, the events after that id and the answer in progress (if any) to its end.
`GET /api/v1/chat/stream/{session_id}/{agent_id}?after_event_id=N` reattaches a client without sending a
message and follows the conversation until the client leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.types import BeforeRequestHookHandler

from application.chat import ChatRequest
from application.conversation_events import TURN_ENDINGS
from application.live_chat import ChatTurns, LiveTurn
from application.ports.feed import FeedEvent
from domain.bounds import MAX_OFFSET
from domain.errors import CentralitaError, InvalidInput
from entrypoints.http.client_address import client_address
from entrypoints.http.events import encode_payload, error_payload, feed_payload
from entrypoints.http.rate_limits import count_chat_request
from entrypoints.http.schemas import (
    AgentIdParam,
    ChatBody,
    ChatOut,
    LegacyChatBody,
    LegacyChatOut,
    chat_out,
    legacy_chat_out,
)

_SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
AfterEventId = Annotated[
    int,
    Parameter(
        ge=0,
        le=MAX_OFFSET,
        description="Send the conversation's events after this event_id (a `Last-Event-ID` header wins).",
    ),
]


class ChatController(Controller):
    path = "/api/v1"
    tags = ["chat"]
    # Every chat request counts against the rate limits, refused ones too.
    before_request: BeforeRequestHookHandler | None = count_chat_request

    @post("/chat", status_code=200, summary="Answer a visitor's message as an agent")
    async def chat(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatBody],
        chat_turns: NamedDependency[ChatTurns],
    ) -> ChatOut:
        turn = _request(request, data.agent_id, data.session_id, data.message, data.origin, "rest")
        return chat_out(await chat_turns.answer(turn))

    @post(
        "/chat/stream",
        status_code=200,
        summary="Answer as server-sent events",
        description="The WebSocket stream events, one `data:` JSON line per event with an `id:` line "
        "(its `event_id`). With `Last-Event-ID`: no new turn; the events after it, to the end of the "
        "answer in progress.",
    )
    async def chat_stream(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatBody],
        chat_turns: NamedDependency[ChatTurns],
    ) -> ServerSentEvent:
        last_seen = _last_event_id(request)
        if last_seen is not None:  # a reconnection: counted like any chat request, answers nothing new
            await chat_turns.admit(data.session_id, client_address(request))
            conversation_id = await chat_turns.conversation_of(data.session_id, data.agent_id)
            newest = await chat_turns.newest_event_id(conversation_id)
            if last_seen >= newest and not await _answer_in_progress(chat_turns, conversation_id, newest):
                newest = -1  # the client has everything and nothing is being answered: an empty stream
            events = _follow(chat_turns, conversation_id, last_seen, until_answer_after=newest)
            return ServerSentEvent(events, headers=_SSE_HEADERS)
        turn = await chat_turns.submit(
            _request(request, data.agent_id, data.session_id, data.message, data.origin, "sse")
        )
        await _started_or_refused(turn, chat_turns)
        events = _follow(chat_turns, turn.conversation_id, turn.visitor_event_id - 1, turn=turn)
        return ServerSentEvent(events, headers=_SSE_HEADERS)

    @get(
        "/chat/stream/{session_id:str}/{agent_id:int}",
        summary="Follow a conversation as server-sent events (reattach without sending a message)",
        description="The conversation's events after `after_event_id` (or `Last-Event-ID`), then the live "
        "ones, until the client leaves. An id older than what is kept: one `error` event `resume_gap`.",
    )
    async def follow_stream(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
        agent_id: AgentIdParam,
        chat_turns: NamedDependency[ChatTurns],
        after_event_id: AfterEventId = 0,
    ) -> ServerSentEvent:
        conversation_id = await chat_turns.conversation_of(session_id, agent_id)
        after = _last_event_id(request)
        events = _follow(chat_turns, conversation_id, after_event_id if after is None else after)
        return ServerSentEvent(events, headers=_SSE_HEADERS)

    @post("/groq/chat", status_code=200, summary="Legacy Groq chat (id_agente, mensaje)", tags=["legacy"])
    async def legacy_chat(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LegacyChatBody],
        chat_turns: NamedDependency[ChatTurns],
    ) -> LegacyChatOut:
        turn = _request(request, data.id_agente, data.session_id, data.mensaje, data.origin, "rest")
        return legacy_chat_out(await chat_turns.answer(turn))


def _request(
    request: Request[Any, Any, Any],
    agent_id: int,
    session_id: str,
    message: str,
    origin: str | None,
    via: str,
) -> ChatRequest:
    channel = "api" if via == "rest" else "web"
    return ChatRequest(agent_id, session_id, message, origin, channel, via, client_address(request))


def _last_event_id(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) > MAX_OFFSET:
        raise InvalidInput("Last-Event-ID must be an event_id: a whole number from 0.")
    return int(raw)


async def _started_or_refused(turn: LiveTurn, chat_turns: ChatTurns) -> None:
    """A failure before the answer started is the request's HTTP error, like REST."""
    try:
        await turn.started()
    except BaseException:
        if chat_turns.on_disconnect == "cancel":
            turn.cancel()
        raise


async def _follow(
    chat_turns: ChatTurns,
    conversation_id: str,
    after: int,
    *,
    turn: LiveTurn | None = None,
    until_answer_after: int | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """The conversation's events as SSE messages: until `turn` ends, or (a reconnection) until the answer in
    progress after `until_answer_after` ends, or for ever."""
    seq = 0
    try:
        async with chat_turns.follow(conversation_id, after) as events:
            if until_answer_after == -1:
                return
            async for event in events:
                seq += 1
                yield _message(feed_payload(event), seq, event.event_id)
                if _ends(event, turn, until_answer_after):
                    return
    except CentralitaError as error:  # resume_gap, or the store failing while following
        seq += 1
        yield _message(error_payload(error.code, error.detail), seq, None)
    finally:
        if turn is not None and not turn.done() and chat_turns.on_disconnect == "cancel":
            turn.cancel()


async def _answer_in_progress(chat_turns: ChatTurns, conversation_id: str, newest: int) -> bool:
    """Whether the conversation's newest event is part of an answer that has not ended yet."""
    if newest == 0:
        return False
    async with chat_turns.follow(conversation_id, newest - 1) as events:
        async for event in events:
            return event.type not in TURN_ENDINGS
    return False


def _ends(event: FeedEvent, turn: LiveTurn | None, until_answer_after: int | None) -> bool:
    if event.type not in TURN_ENDINGS:
        return False
    if turn is not None:
        return event.data.get("message_id") == turn.message_id
    return until_answer_after is not None and event.event_id >= until_answer_after


def _message(payload: dict[str, Any], seq: int, event_id: int | None) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=encode_payload(payload, seq), id=event_id)
