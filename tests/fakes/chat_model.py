"""A scripted ChatModel for use-case and API tests: no network, full control over each answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from application.ports.chat_model import (
    ChatModel,
    KeyCheck,
    ModelDelta,
    ModelInfo,
    ModelReply,
    ModelRequest,
    ProviderCheck,
)
from domain.errors import LlmStreamFailed, LlmUnavailable
from domain.usage import Usage


class ScriptedChatModel(ChatModel):
    """Answers "Echo: <question>" in word pieces unless told otherwise; records every request."""

    provider = "fake"
    default_model = "fake-model"

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self.answer: str | None = None  # fixed answer; None = echo the question
        self.unavailable: str | None = None  # unavailable_reason()
        self.fail_before_first_token = False
        self.fail_after_pieces: int | None = None
        self.piece_delay = 0.0
        self.before_call: Callable[[ModelRequest], Awaitable[None]] | None = None
        self.closed_streams = 0

    def unavailable_reason(self) -> str | None:
        return self.unavailable

    def text_for(self, request: ModelRequest) -> str:
        return self.answer if self.answer is not None else f"Echo: {request.messages[-1].content}"

    def usage_for(self, request: ModelRequest, text: str) -> Usage:
        prompt = sum(len(m.content.split()) for m in request.messages)
        output = len(text.split())
        return Usage(prompt, output, prompt + output)

    async def _start(self, request: ModelRequest) -> None:
        self.requests.append(request)
        if self.before_call is not None:
            await self.before_call(request)
        if self.unavailable:
            raise LlmUnavailable(self.unavailable)
        if self.fail_before_first_token:
            raise LlmUnavailable("fake provider is down")

    async def complete(self, request: ModelRequest) -> ModelReply:
        await self._start(request)
        text = self.text_for(request)
        return ModelReply(text, f"fake:{request.model or self.default_model}", self.usage_for(request, text))

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        await self._start(request)
        text = self.text_for(request)
        pieces = [word + " " for word in text.split(" ")]
        pieces[-1] = pieces[-1][:-1]
        try:
            for number, piece in enumerate(pieces):
                if self.fail_after_pieces is not None and number == self.fail_after_pieces:
                    raise LlmStreamFailed("fake provider broke off")
                if self.piece_delay:
                    await asyncio.sleep(self.piece_delay)
                yield ModelDelta(piece)
            yield ModelDelta(
                usage=self.usage_for(request, text), model=f"fake:{request.model or self.default_model}"
            )
        finally:
            self.closed_streams += 1

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.default_model, "fake")]

    async def check(self) -> ProviderCheck:
        if self.unavailable:
            return ProviderCheck(False, self.provider, self.default_model, None, self.unavailable)
        return ProviderCheck(True, self.provider, self.default_model, 1.0)

    async def verify_key(self) -> KeyCheck:
        return KeyCheck(self.unavailable is None, self.provider, "****abcd")
