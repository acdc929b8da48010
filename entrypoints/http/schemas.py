"""Request and response shapes of the HTTP API (PRODUCT.md, "Shapes"), as msgspec structs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import Example
from litestar.params import KwargDefinition, Parameter

from application.chat import ChatAnswer
from application.ports.chat_model import KeyCheck, ModelInfo, ProviderCheck
from domain import rules
from domain.agents import Agent, AgentSpec
from domain.bounds import MAX_ID, MAX_LIMIT, MAX_OFFSET
from domain.conversations import Conversation, Message
from domain.knowledge import Source
from domain.usage import Usage
from domain.visitors import Visitor

# --- requests -------------------------------------------------------------------------------------------

# Every integer a client sends is bounded (domain/bounds.py): out of range is 422 `invalid_request`.
AgentIdParam = Annotated[int, Parameter(ge=1, le=MAX_ID, description=f"An agent id, 1 to {MAX_ID}.")]
AgentIdFilter = Annotated[int | None, Parameter(ge=1, le=MAX_ID, description=f"An agent id, 1 to {MAX_ID}.")]
Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}.")]
Offset = Annotated[
    int,
    Parameter(ge=0, le=MAX_OFFSET, description=f"0 to {MAX_OFFSET}.", schema_extra={"minimum": 0}),
]
AgentIdField = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID, description=f"An agent id, 1 to {MAX_ID}.")]


# Documented, not enforced here: the chat turn checks these rules itself and answers with the stable codes of
# PRODUCT.md (422 invalid_session_id, 413 message_too_long, 422 invalid_characters, …). Every value comes from
# domain/rules.py; the message's max_length is replaced by the configured MAX_MESSAGE_CHARS once the app is
# built (openapi_errors.declare_message_limit).
SESSION_ID_SCHEMA_PATTERN = f"^{rules.SESSION_ID_PATTERN}$"
# An empty origin means the default one (domain.visitors.normalize_origin).
ORIGIN_SCHEMA_PATTERN = f"^[{rules.IDENTIFIER_CHARACTERS}]{{0,{rules.MAX_ORIGIN_CHARS}}}$"
_CONTROL = rules.CONTROL_CHARACTERS
MESSAGE_SCHEMA_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{rules.WHITESPACE}][^{_CONTROL}]*$"
# Examples a client can copy (and schemathesis's examples phase sends); a test checks the domain accepts them.
EXAMPLE_SESSION_ID = "visitor-3f9a.2026:web_1"
EXAMPLE_MESSAGE = "¿A qué hora abrís los sábados?"
SessionId = Annotated[
    str,
    KwargDefinition(
        schema_extra={"pattern": SESSION_ID_SCHEMA_PATTERN}, examples=[Example(value=EXAMPLE_SESSION_ID)]
    ),
]
VisitorText = Annotated[
    str,
    KwargDefinition(
        max_length=rules.DEFAULT_MAX_MESSAGE_CHARS,
        description="Non-blank text of at most MAX_MESSAGE_CHARS characters; no control characters.",
        schema_extra={"pattern": MESSAGE_SCHEMA_PATTERN},
        examples=[Example(value=EXAMPLE_MESSAGE)],
    ),
]
Origin = Annotated[
    str | None,
    KwargDefinition(
        schema_extra={"pattern": ORIGIN_SCHEMA_PATTERN}, examples=[Example(value=rules.DEFAULT_ORIGIN)]
    ),
]


class ChatBody(msgspec.Struct, kw_only=True):
    agent_id: AgentIdField
    message: VisitorText
    session_id: SessionId
    origin: Origin = None


class LegacyChatBody(msgspec.Struct, kw_only=True):
    id_agente: AgentIdField
    mensaje: VisitorText
    session_id: SessionId
    origin: Origin = None


# The agent field rules of AgentSpec.validated() (domain/rules.py), declared so the schema tells clients what
# is accepted. msgspec enforces them while decoding; the agent routes answer a broken rule with 422
# `invalid_agent`, like the domain.
AGENT_FIELD_RULES = rules.AGENT_FIELD_RULES
NON_BLANK = rules.NON_BLANK
WHITESPACE = rules.WHITESPACE


def _text(length: rules.Length, description: str) -> msgspec.Meta:
    """A text field's msgspec rule: its length bounds, and one non-blank character when it must have one."""
    return msgspec.Meta(
        min_length=length.min_chars or None,
        max_length=length.max_chars,
        pattern=NON_BLANK if length.not_blank else None,
        description=description,
    )


def _number(bounds: rules.Range | rules.IntRange, description: str) -> msgspec.Meta:
    """A number field's msgspec rule. Litestar leaves a falsy bound (`ge=0`) of an optional field out of the
    schema; "extra" puts it back."""
    extra = {"extra": {"minimum": bounds.low}} if not bounds.low else None
    return msgspec.Meta(ge=bounds.low, le=bounds.high, description=description, extra_json_schema=extra)


AgentName = Annotated[str, _text(rules.AGENT_NAME, AGENT_FIELD_RULES["name"])]
SystemPrompt = Annotated[str, _text(rules.AGENT_SYSTEM_PROMPT, AGENT_FIELD_RULES["system_prompt"])]
Language = Annotated[str, _text(rules.AGENT_LANGUAGE, AGENT_FIELD_RULES["language"])]
# Narrowed to the providers this server can build once the app is built (openapi_errors.declare_model_rule).
ModelName = Annotated[str, msgspec.Meta(pattern=rules.MODEL_PATTERN, description=AGENT_FIELD_RULES["model"])]
Temperature = Annotated[float, _number(rules.AGENT_TEMPERATURE, AGENT_FIELD_RULES["temperature"])]
MaxTokens = Annotated[int, _number(rules.AGENT_MAX_TOKENS, AGENT_FIELD_RULES["max_tokens"])]
KDocuments = Annotated[int, _number(rules.AGENT_K_DOCUMENTS, AGENT_FIELD_RULES["k_documents"])]
MinScore = Annotated[float, _number(rules.AGENT_MIN_SCORE, AGENT_FIELD_RULES["min_score"])]
Greeting = Annotated[str, _text(rules.AGENT_GREETING, AGENT_FIELD_RULES["greeting"])]


class AgentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """POST and PUT: `name` and `system_prompt` are required, the rest have defaults."""

    name: AgentName
    system_prompt: SystemPrompt
    language: Language = "es"
    model: ModelName | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    k_documents: KDocuments = rules.DEFAULT_K_DOCUMENTS
    min_score: MinScore | None = None
    greeting: Greeting | None = None

    def to_spec(self) -> AgentSpec:
        return AgentSpec(**msgspec.structs.asdict(self))


UNSET = msgspec.UNSET


class AgentPatchBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PATCH: only the fields present change; `null` resets an optional field to its default."""

    name: AgentName | msgspec.UnsetType = UNSET
    system_prompt: SystemPrompt | msgspec.UnsetType = UNSET
    language: Language | msgspec.UnsetType = UNSET
    model: ModelName | msgspec.UnsetType | None = UNSET
    temperature: Temperature | msgspec.UnsetType | None = UNSET
    max_tokens: MaxTokens | msgspec.UnsetType | None = UNSET
    k_documents: KDocuments | msgspec.UnsetType = UNSET
    min_score: MinScore | msgspec.UnsetType | None = UNSET
    greeting: Greeting | msgspec.UnsetType | None = UNSET

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(self).items() if v is not UNSET}


# --- responses ------------------------------------------------------------------------------------------


class UsageOut(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SourceOut(msgspec.Struct):
    document_id: str
    title: str
    snippet: str
    score: float


class ChatOut(msgspec.Struct):
    answer: str
    agent_id: int
    session_id: str
    conversation_id: str
    message_id: str
    model: str
    sources: list[SourceOut]
    usage: UsageOut | None


class LegacyChatOut(ChatOut):
    respuesta: str


class AgentOut(msgspec.Struct):
    id: int
    name: str
    system_prompt: str
    language: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    k_documents: int
    min_score: float | None
    greeting: str | None
    created_at: datetime
    updated_at: datetime


class VisitorOut(msgspec.Struct):
    session_id: str
    origin: str
    first_seen: datetime
    last_seen: datetime
    message_count: int


class ConversationOut(msgspec.Struct):
    id: str
    session_id: str
    agent_id: int
    created_at: datetime
    updated_at: datetime
    message_count: int
    usage: UsageOut


class MessageOut(msgspec.Struct):
    id: str
    role: str
    content: str
    created_at: datetime
    status: str
    model: str | None
    usage: UsageOut | None
    sources: list[SourceOut]


class PublicMessageOut(msgspec.Struct):
    """What a visitor may see of their own conversation."""

    id: str
    role: str
    content: str
    created_at: datetime
    status: str
    sources: list[SourceOut]


class LlmTestOut(msgspec.Struct, omit_defaults=True):
    ok: bool
    provider: str
    model: str
    latency_ms: float | None
    error: str | None = None


class ModelOut(msgspec.Struct, omit_defaults=True):
    id: str
    owned_by: str | None = None


class ModelsOut(msgspec.Struct):
    models: list[ModelOut]


class KeyCheckOut(msgspec.Struct, omit_defaults=True):
    valid: bool
    provider: str
    key_hint: str | None
    error: str | None = None


# --- mapping --------------------------------------------------------------------------------------------


def usage_out(usage: Usage | None) -> UsageOut | None:
    return None if usage is None else UsageOut(usage.input_tokens, usage.output_tokens, usage.total_tokens)


def sources_out(sources: tuple[Source, ...]) -> list[SourceOut]:
    return [SourceOut(s.document_id, s.title, s.snippet, s.score) for s in sources]


def chat_out(answer: ChatAnswer) -> ChatOut:
    return ChatOut(
        answer.answer,
        answer.agent_id,
        answer.session_id,
        answer.conversation_id,
        answer.message_id,
        answer.model,
        sources_out(answer.sources),
        usage_out(answer.usage),
    )


def legacy_chat_out(answer: ChatAnswer) -> LegacyChatOut:
    return LegacyChatOut(**msgspec.structs.asdict(chat_out(answer)), respuesta=answer.answer)


def agent_out(agent: Agent) -> AgentOut:
    s = agent.spec
    return AgentOut(
        agent.id,
        s.name,
        s.system_prompt,
        s.language,
        s.model,
        s.temperature,
        s.max_tokens,
        s.k_documents,
        s.min_score,
        s.greeting,
        agent.created_at,
        agent.updated_at,
    )


def visitor_out(v: Visitor) -> VisitorOut:
    return VisitorOut(v.session_id, v.origin, v.first_seen, v.last_seen, v.message_count)


def conversation_out(c: Conversation) -> ConversationOut:
    usage = usage_out(c.usage)
    assert usage is not None
    return ConversationOut(c.id, c.session_id, c.agent_id, c.created_at, c.updated_at, c.message_count, usage)


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        m.id,
        m.role.value,
        m.content,
        m.created_at,
        m.status.value,
        m.model,
        usage_out(m.usage),
        sources_out(m.sources),
    )


def public_message_out(m: Message) -> PublicMessageOut:
    return PublicMessageOut(
        m.id, m.role.value, m.content, m.created_at, m.status.value, sources_out(m.sources)
    )


def llm_test_out(check: ProviderCheck) -> LlmTestOut:
    return LlmTestOut(check.ok, check.provider, check.model, check.latency_ms, check.error)


def models_out(models: list[ModelInfo]) -> ModelsOut:
    return ModelsOut([ModelOut(m.id, m.owned_by) for m in models])


def key_check_out(check: KeyCheck) -> KeyCheckOut:
    return KeyCheckOut(check.valid, check.provider, check.key_hint, check.error)
