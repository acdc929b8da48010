"""REST and server-sent-event chat routes, current and legacy (`/api/v1/groq/chat`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent
from litestar.types import BeforeRequestHookHandler

from application.chat import ChatAnswer, ChatRequest, ChatService
from entrypoints.http.events import encode_event
from entrypoints.http.rate_limits import count_chat_request
from entrypoints.http.schemas import (
    ChatBody,
    ChatOut,
    LegacyChatBody,
    LegacyChatOut,
    chat_out,
    legacy_chat_out,
)
from entrypoints.metrics import TurnMeter


class ChatController(Controller):
    path = "/api/v1"
    tags = ["chat"]
    # Every chat request counts against the rate limits, refused ones too.
    before_request: BeforeRequestHookHandler | None = count_chat_request

    @post("/chat", status_code=200, summary="Answer a visitor's message as an agent")
    async def chat(self, data: JSONBody[ChatBody], chat: NamedDependency[ChatService]) -> ChatOut:
        request = ChatRequest(data.agent_id, data.session_id, data.message, data.origin)
        return chat_out(await _answer(chat, request, "rest"))

    @post(
        "/chat/stream",
        status_code=200,
        summary="Answer as server-sent events",
        description="The WebSocket stream events, one `data:` JSON line per event.",
    )
    async def chat_stream(
        self, data: JSONBody[ChatBody], chat: NamedDependency[ChatService]
    ) -> ServerSentEvent:
        meter = TurnMeter(data.agent_id, "sse")
        try:
            stream = await chat.open_stream(
                ChatRequest(data.agent_id, data.session_id, data.message, data.origin)
            )
        except Exception as error:
            meter.fail(error)
            raise
        except BaseException:
            meter.close()
            raise

        async def frames() -> AsyncIterator[str]:
            try:
                async with aclosing(stream.events()) as events:
                    seq = 0
                    async for event in events:
                        meter.observe(event)
                        seq += 1
                        yield encode_event(event, seq)
            finally:
                meter.close()

        return ServerSentEvent(frames(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @post("/groq/chat", status_code=200, summary="Legacy Groq chat (id_agente, mensaje)", tags=["legacy"])
    async def legacy_chat(
        self, data: JSONBody[LegacyChatBody], chat: NamedDependency[ChatService]
    ) -> LegacyChatOut:
        request = ChatRequest(data.id_agente, data.session_id, data.mensaje, data.origin)
        return legacy_chat_out(await _answer(chat, request, "rest"))


async def _answer(chat: ChatService, request: ChatRequest, channel: str) -> ChatAnswer:
    """A whole answer, its outcome counted (complete, failed with its code, or interrupted)."""
    meter = TurnMeter(request.agent_id, channel)
    try:
        answer = await chat.answer(request)
    except Exception as error:
        meter.fail(error)
        raise
    except BaseException:  # cancelled: the client left
        meter.close()
        raise
    meter.complete()
    return answer
