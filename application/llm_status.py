"""What the app has learnt about the provider's view of its key, for `/ready` to tell.

The startup key check, the admin's checks and every chat turn report here: a refused key (HTTP 401/403) makes
the LLM not ready with the provider's own advice; any later success (a turn answered, a check passed) makes it
ready again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from application.ports.chat_model import (
    ChatModel,
    KeyCheck,
    ModelDelta,
    ModelInfo,
    ModelReply,
    ModelRequest,
    ProviderCheck,
)
from domain.errors import LlmKeyRejected


class KeyStatus:
    """The last known outcome: `problem` is why the key is refused, None while it is accepted (or unknown)."""

    def __init__(self) -> None:
        self.problem: str | None = None
        self.changed_at = time.monotonic()

    def rejected(self, detail: str) -> None:
        self.problem, self.changed_at = detail, time.monotonic()

    def accepted(self) -> None:
        if self.problem is not None:
            self.problem, self.changed_at = None, time.monotonic()

    def record_key_check(self, check: KeyCheck | ProviderCheck) -> None:
        """A check's outcome: passed, refused, or neither (unreachable says nothing about the key)."""
        passed = check.valid if isinstance(check, KeyCheck) else check.ok
        if passed:
            self.accepted()
        elif check.rejected:
            self.rejected(check.error or "the provider rejected the key")


class KeyWatch(ChatModel):
    """A ChatModel decorator reporting to a KeyStatus whether the provider accepted each chat call (checks are
    reported by Diagnostics)."""

    def __init__(self, inner: ChatModel, status: KeyStatus) -> None:
        self._inner = inner
        self._status = status
        self.provider = inner.provider
        self.default_model = inner.default_model

    def unavailable_reason(self) -> str | None:
        return self._inner.unavailable_reason()

    async def complete(self, request: ModelRequest) -> ModelReply:
        try:
            reply = await self._inner.complete(request)
        except LlmKeyRejected as error:
            self._status.rejected(error.detail)
            raise
        self._status.accepted()
        return reply

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        answered = False
        try:
            async for delta in self._inner.stream(request):
                if not answered:
                    answered = True
                    self._status.accepted()
                yield delta
        except LlmKeyRejected as error:
            self._status.rejected(error.detail)
            raise

    async def list_models(self) -> list[ModelInfo]:
        return await self._inner.list_models()

    async def check(self) -> ProviderCheck:
        return await self._inner.check()

    async def verify_key(self) -> KeyCheck:
        return await self._inner.verify_key()
