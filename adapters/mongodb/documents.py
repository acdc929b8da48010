"""BSON documents <-> domain objects, and the collections they live in (layout: docs/storage.md).

Times are stored as BSON dates, which keep milliseconds: :func:`bson_time` normalizes a time to
UTC milliseconds before it is written, so what a repository returns equals what it later reads.
Collections are opened with ``tz_aware`` codec options whatever the client's settings, so every
time read back is timezone-aware UTC, and (by default) with ``j: true`` added to the database's
write concern, so a write that was acknowledged survives a crash of the server.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, message_to_dict
from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from domain.agents import Agent, AgentSpec
from domain.conversations import Conversation, Message, MessageStatus, Role
from domain.knowledge import Source
from domain.usage import Usage
from domain.visitors import Visitor

AGENTS = "agents"
VISITORS = "visitors"
CONVERSATIONS = "conversations"
MESSAGES = "messages"
COUNTERS = "counters"
AGENT_COUNTER = "agents"  # the `_id` of the counters document that numbers agents

HISTORY_KEY = "History"  # langchain-mongodb's default `history_key`: JSON of message_to_dict(message)

Document = dict[str, Any]

_CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True, tzinfo=UTC)
_SPEC_FIELDS = tuple(f.name for f in fields(AgentSpec))


def collection(db: AsyncDatabase[Any], name: str, *, journal: bool = True) -> AsyncCollection[Document]:
    """`db[name]` reading aware UTC times and, when `journal`, writing with ``j: true``."""
    concern = dict(db.write_concern.document)
    if journal and concern.get("w") != 0:
        concern["j"] = True
    return db.get_collection(name, codec_options=_CODEC, write_concern=WriteConcern(**concern))


def bson_time(moment: datetime) -> datetime:
    """`moment` as BSON keeps it: UTC, whole milliseconds (a naive time is taken as UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


# -- usage and sources ----------------------------------------------------------------------------


def usage_document(usage: Usage) -> Document:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def usage_increment(usage: Usage, prefix: str = "usage") -> Document:
    """A `$inc` body adding `usage` to the totals under `prefix`."""
    return {f"{prefix}.{key}": value for key, value in usage_document(usage).items()}


def usage_from(document: Document | None) -> Usage | None:
    if document is None:
        return None
    return Usage(
        int(document.get("input_tokens", 0)),
        int(document.get("output_tokens", 0)),
        int(document.get("total_tokens", 0)),
    )


def _source_document(source: Source) -> Document:
    return {
        "document_id": source.document_id,
        "title": source.title,
        "snippet": source.snippet,
        "score": source.score,
    }


def _source_from(document: Document) -> Source:
    return Source(document["document_id"], document["title"], document["snippet"], float(document["score"]))


# -- agents ---------------------------------------------------------------------------------------


def agent_document(agent: Agent) -> Document:
    """`_id` is the integer agent id; the spec's fields sit at the top level."""
    document: Document = {"_id": agent.id}
    document.update({name: getattr(agent.spec, name) for name in _SPEC_FIELDS})
    document["created_at"] = bson_time(agent.created_at)
    document["updated_at"] = bson_time(agent.updated_at)
    return document


def agent_from(document: Document) -> Agent:
    """Fields missing from an older document take the spec's defaults."""
    spec = AgentSpec(**{name: document[name] for name in _SPEC_FIELDS if name in document})
    return Agent(int(document["_id"]), spec, document["created_at"], document["updated_at"])


# -- visitors -------------------------------------------------------------------------------------


def visitor_from(document: Document) -> Visitor:
    return Visitor(
        document["_id"],
        document["origin"],
        document["first_seen"],
        document["last_seen"],
        int(document.get("message_count", 0)),
    )


# -- conversations and messages -------------------------------------------------------------------


def new_conversation_fields(now: datetime) -> Document:
    """What `$setOnInsert` writes when a conversation is created (besides its key and `_id`)."""
    moment = bson_time(now)
    return {
        "created_at": moment,
        "updated_at": moment,
        "message_count": 0,
        "last_seq": 0,
        "usage": usage_document(Usage()),
    }


def conversation_from(document: Document) -> Conversation:
    return Conversation(
        id=document["_id"],
        session_id=document["session_id"],
        agent_id=int(document["agent_id"]),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        message_count=int(document.get("message_count", 0)),
        usage=usage_from(document.get("usage")) or Usage(),
    )


def message_content_fields(message: Message, history: BaseMessage | None = None) -> Document:
    """The fields `update_message` replaces, including the LangChain serialization."""
    return {
        "content": message.content,
        "status": message.status.value,
        "model": message.model,
        "usage": None if message.usage is None else usage_document(message.usage),
        "sources": [_source_document(source) for source in message.sources],
        "error": message.error,
        HISTORY_KEY: history_json(history if history is not None else to_langchain(message)),
    }


def message_document(message: Message, history: BaseMessage | None = None) -> Document:
    """One message, `_id` = message id; `history` overrides the LangChain form stored with it."""
    document: Document = {
        "_id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "role": message.role.value,
        "created_at": bson_time(message.created_at),
    }
    document.update(message_content_fields(message, history))
    return document


def message_from(document: Document) -> Message:
    return Message(
        id=document["_id"],
        conversation_id=document["conversation_id"],
        role=Role(document["role"]),
        content=document["content"],
        created_at=document["created_at"],
        status=MessageStatus(document.get("status", MessageStatus.COMPLETE.value)),
        model=document.get("model"),
        usage=usage_from(document.get("usage")),
        sources=tuple(_source_from(source) for source in document.get("sources") or ()),
        error=document.get("error"),
        seq=int(document["seq"]),
    )


# -- the LangChain form of a message --------------------------------------------------------------


def to_langchain(message: Message) -> BaseMessage:
    """The message as LangChain sees it: Human/AI/SystemMessage with our id, model and usage."""
    if message.role is Role.USER:
        return HumanMessage(content=message.content, id=message.id)
    if message.role is Role.SYSTEM:
        return SystemMessage(content=message.content, id=message.id)
    metadata: dict[str, Any] = {"status": message.status.value}
    if message.model is not None:
        metadata["model_name"] = message.model
    usage = message.usage
    return AIMessage(
        content=message.content,
        id=message.id,
        response_metadata=metadata,
        usage_metadata=None
        if usage is None
        else {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
    )


def history_json(message: BaseMessage) -> str:
    """What langchain-mongodb's MongoDBChatMessageHistory stores under `History`."""
    return json.dumps(message_to_dict(message), ensure_ascii=False)
