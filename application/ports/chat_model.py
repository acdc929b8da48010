"""Port: the language model that writes the answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from domain.conversations import Role
from domain.usage import Usage


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One call: the prompt and the agent's settings (None = the configured default)."""

    messages: tuple[PromptMessage, ...]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ModelReply:
    text: str
    model: str  # the model that really answered (a fallback may have)
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """A piece of a streamed answer; the last pieces may carry only usage and the model name."""

    text: str = ""
    usage: Usage | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    ok: bool
    provider: str
    model: str
    latency_ms: float | None = None
    error: str | None = None
    rejected: bool = False  # the provider refused the key


@dataclass(frozen=True, slots=True)
class KeyCheck:
    valid: bool
    provider: str
    key_hint: str | None
    error: str | None = None
    rejected: bool = False  # the provider refused the key (not merely unreachable)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class ChatModel(ABC):
    """A chat-completion provider. Errors are domain errors: LlmUnavailable before any text was produced,
    LlmStreamFailed when a stream breaks after it started."""

    provider: str
    default_model: str

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """Why no call can succeed now (e.g. the API key variable is unset), or None."""

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelReply:
        """The whole answer at once."""

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelDelta]:
        """The answer piece by piece; closing the iterator cancels the provider call."""

    def model_problem(self, model: str) -> str | None:
        """Why an agent may not name `model` (no provider here can build it), or None; no network call. An
        agent saved with such a model would answer every visitor 503, so the agent is refused instead."""
        return None

    def model_providers(self) -> tuple[str, ...] | None:
        """The `provider:` prefixes an agent's model may name here (those `model_problem` accepts), or None
        when it accepts any."""
        return None

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models the provider offers (or the configured ones where it has no listing)."""

    @abstractmethod
    async def check(self) -> ProviderCheck:
        """A real, tiny round trip to the provider."""

    @abstractmethod
    async def verify_key(self) -> KeyCheck:
        """Whether the provider accepts the configured key; the hint masks all but its last 4 characters."""
