"""The audit log of admin changes: who changed which agent or document, when, and how (PRODUCT.md, "Operations").

An entry says what happened (`action`, e.g. `agent.updated`), to what (`target`: the agent id, or the document
id with its `agent_id`), which fields changed from what to what, and who asked (`Actor`: the trusted client
address and the request id, which also tags every log line of that request).

What an entry never holds: secrets, and the full system prompt. Agents have no secret field today;
`SECRET_FIELDS` names the ones that would only be recorded as "changed". The system prompt is recorded as a
summary — its length and a sha256 prefix — because (1) it is the operator's confidential business instruction
(docs/security.md keeps it from visitors) and the audit is mirrored into log lines that travel to log
aggregators with a wider audience; (2) it may be 50,000 characters, and a log that copies it on every edit
grows by megabytes and becomes a prompt-versioning store it was not designed to be. The hash still answers
the audit question "was the prompt changed, and is the one running now the one set at 10:02?" (hash the
current prompt and compare). Other fields are short, operator-set and not confidential, so they are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.agents import Agent, AgentSpec
from domain.knowledge import KnowledgeDocument

AuditValue = str | int | float | bool | None

SUMMARIZED_FIELDS = frozenset({"system_prompt"})  # long text: length + sha256 prefix, never the text
SECRET_FIELDS = frozenset({"api_key", "password", "secret", "token"})  # only "changed", never a value
REDACTED = "[redacted]"
HASH_PREFIX_CHARS = 16


class AuditAction(StrEnum):
    AGENT_CREATED = "agent.created"
    AGENT_UPDATED = "agent.updated"  # PATCH
    AGENT_REPLACED = "agent.replaced"  # PUT
    AGENT_DELETED = "agent.deleted"
    DOCUMENT_ADDED = "document.added"
    DOCUMENT_DELETED = "document.deleted"


class AuditOutcome(StrEnum):
    # Only changes that took effect are recorded (a refused or failed attempt changes nothing to audit);
    # the field keeps room for recording attempts later without changing the entry's shape.
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for a change: known only at the entrypoint (HTTP), passed down to the use case."""

    client_address: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: AuditValue
    new: AuditValue


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: datetime  # UTC
    action: AuditAction
    target: str
    agent_id: int | None = None
    changes: tuple[FieldChange, ...] = ()
    actor: Actor = field(default_factory=Actor)
    outcome: AuditOutcome = AuditOutcome.SUCCEEDED

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(change.field for change in self.changes)


def summarize_text(text: str) -> str:
    """A stand-in for a long text: enough to tell two versions apart, nothing of what it says."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:HASH_PREFIX_CHARS]
    return f"<{len(text)} chars, sha256 {digest}>"


def audit_value(name: str, value: Any) -> AuditValue:
    """What the log may keep of field `name`'s value."""
    if name in SECRET_FIELDS and value is not None:
        return REDACTED
    if name in SUMMARIZED_FIELDS and isinstance(value, str):
        return summarize_text(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def spec_changes(old: AgentSpec | None, new: AgentSpec | None) -> tuple[FieldChange, ...]:
    """The fields that differ between two versions of an agent (None: it did not exist), in spec order."""
    changes = []
    for spec_field in fields(AgentSpec):
        name = spec_field.name
        before = getattr(old, name) if old is not None else None
        after = getattr(new, name) if new is not None else None
        if before == after:  # also None -> None for a field unset in a created or deleted agent
            continue
        changes.append(FieldChange(name, audit_value(name, before), audit_value(name, after)))
    return tuple(changes)


def agent_entry(
    action: AuditAction,
    agent_id: int,
    before: Agent | None,
    after: Agent | None,
    actor: Actor | None,
    now: datetime,
) -> AuditEntry:
    """Created: every set field, from None. Deleted: every set field, to None. Else: the fields that differ."""
    if before is None and after is None:
        changes: tuple[FieldChange, ...] = ()  # e.g. deleted by someone else between read and delete
    else:
        changes = spec_changes(before.spec if before else None, after.spec if after else None)
    return AuditEntry(now, action, str(agent_id), agent_id, changes, actor or Actor())


def document_entry(
    action: AuditAction,
    agent_id: int,
    document_id: str,
    document: KnowledgeDocument | None,
    actor: Actor | None,
    now: datetime,
) -> AuditEntry:
    """`document` is the added one; a deletion knows only the id."""
    changes: tuple[FieldChange, ...] = ()
    if document is not None:
        changes = (
            FieldChange("title", None, document.title),
            FieldChange("source", None, document.source),
            FieldChange("chunks", None, document.chunks),
        )
    return AuditEntry(now, action, document_id, agent_id, changes, actor or Actor())
