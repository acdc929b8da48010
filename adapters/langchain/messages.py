"""How the port's prompt becomes LangChain messages, and what a LangChain reply says back: the tokens it used
and the model that answered (as `provider:model`)."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from application.ports.chat_model import PromptMessage
from domain.conversations import Role
from domain.usage import Usage

_ROLES: dict[Role, type[BaseMessage]] = {
    Role.SYSTEM: SystemMessage,
    Role.USER: HumanMessage,
    Role.ASSISTANT: AIMessage,
}


def split_model(model: str, default_provider: str) -> tuple[str, str]:
    """`provider:model`, or a bare model name on the default provider."""
    provider, sep, name = model.partition(":")
    return (provider, name) if sep else (default_provider, model)


def to_langchain(messages: tuple[PromptMessage, ...]) -> list[BaseMessage]:
    return [_ROLES[m.role](content=m.content) for m in messages]


def usage_of(message: AIMessage) -> Usage | None:
    meta = message.usage_metadata
    if not meta:
        return None
    return Usage(meta["input_tokens"], meta["output_tokens"], meta["total_tokens"])


def qualified(model_id: str, name: str) -> str:
    """The provider's own name for the model that answered, on the provider of `model_id`."""
    provider, _ = split_model(model_id, "")
    return f"{provider}:{name}" if provider else name


def model_name(message: AIMessage, model_id: str) -> str:
    name = message.response_metadata.get("model_name")
    return qualified(model_id, name) if name else model_id
