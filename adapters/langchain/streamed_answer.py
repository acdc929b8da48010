"""How one model's streamed answer is read: up to its first text, then the rest, every piece due by the same
deadline, and whether the provider really finished it (its finish marker, see `ProviderProfile.finish_keys`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.messages import AIMessageChunk

from adapters.langchain.failures import Unfinished, describe
from adapters.langchain.messages import qualified, usage_of
from adapters.langchain.providers import ProviderProfile
from application.ports.chat_model import ModelDelta
from domain.bounds import MAX_REPLY_CHARS
from domain.errors import LlmStreamFailed
from domain.usage import Usage

log = logging.getLogger("centralita.llm")


class StreamedAnswer:
    """One model's streamed answer: its pieces, its usage, and whether the provider finished it."""

    def __init__(self, model_id: str, profile: ProviderProfile, max_chars: int = MAX_REPLY_CHARS) -> None:
        self.model_id = model_id
        self.max_chars = max_chars
        self.profile = profile
        self.finished = not profile.finish_keys  # providers we cannot check are trusted
        self.usage: Usage | None = None
        self.name: str | None = None
        self.ended = False
        self.chars = 0  # of text so far, bounded by max_chars

    async def until_text(self, chunks: AsyncIterator[Any], deadline: float) -> list[ModelDelta]:
        """Read up to the first piece of text (or the end of an empty answer); raises if none comes."""
        while True:
            chunk = await self._next(chunks, deadline)
            if chunk is None:
                if not self.finished:
                    raise Unfinished()
                return []
            text = self._take(chunk)
            if text:
                return [ModelDelta(text, model=self.model_id)]

    async def rest(self, chunks: AsyncIterator[Any], deadline: float) -> AsyncIterator[ModelDelta]:
        """The pieces after the first; any failure now is LlmStreamFailed."""
        try:
            while not self.ended:
                chunk = await self._next(chunks, deadline)
                if chunk is None:
                    break
                text = self._take(chunk)
                if text:
                    yield ModelDelta(text, model=self.model_id)
            if not self.finished:
                raise Unfinished()
        except LlmStreamFailed:
            raise
        except Exception as error:
            detail = (
                f"{self.model_id} did not finish the answer in time."
                if isinstance(error, TimeoutError)
                else describe(self.model_id, error)
            )
            log.warning("stream broke off: %s", detail)
            raise LlmStreamFailed(f"The answer broke off: {detail}") from error
        name = qualified(self.model_id, self.name) if self.name else self.model_id
        yield ModelDelta(usage=self.usage, model=name)

    async def _next(self, chunks: AsyncIterator[Any], deadline: float) -> AIMessageChunk | None:
        if self.ended:
            return None
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            self.ended = True
            return None
        if not isinstance(chunk, AIMessageChunk):
            raise TypeError(f"expected an AIMessageChunk, got {type(chunk).__name__}")
        return chunk

    def _take(self, chunk: AIMessageChunk) -> str:
        self.chars += len(chunk.text)
        if self.chars > self.max_chars:
            log.warning("stream cut: %s sent more than %d characters", self.model_id, self.max_chars)
            raise LlmStreamFailed(
                f"The answer broke off: {self.model_id} sent more than {self.max_chars} characters."
            )
        meta = chunk.response_metadata
        if any(meta.get(key) for key in self.profile.finish_keys):
            self.finished = True
        self.usage = usage_of(chunk) or self.usage
        self.name = meta.get("model_name") or self.name
        return str(chunk.text)
