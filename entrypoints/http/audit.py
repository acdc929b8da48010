"""The audit log for operators (admin): `GET /api/v1/audit`, newest first, filtered by action, target, agent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter

from application.audit import ACTIONS, Auditor
from application.paging import Page
from domain.audit import AuditEntry
from domain.bounds import DEFAULT_LIMIT
from entrypoints.http.schemas import AgentIdFilter, Limit, Offset
from entrypoints.http.security import admin_guard

# An audit action, or empty for no filter (`?action=`): the schema lists exactly what the server accepts.
ActionFilter = Annotated[
    str, Parameter(description="An audit action; empty is no filter.", schema_extra={"enum": ["", *ACTIONS]})
]

# Integers are JSON numbers too: declaring `int` and `float` both would make the schema's oneOf ambiguous.
ChangeValue = str | float | bool | None


class FieldChangeOut(msgspec.Struct):
    field: str
    old: ChangeValue
    new: ChangeValue


class AuditEntryOut(msgspec.Struct):
    time: datetime
    action: str
    target: str
    agent_id: int | None
    changes: list[FieldChangeOut]
    client_address: str | None
    request_id: str | None
    outcome: str


def audit_entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        entry.time,
        entry.action.value,
        entry.target,
        entry.agent_id,
        [FieldChangeOut(c.field, c.old, c.new) for c in entry.changes],
        entry.actor.client_address,
        entry.actor.request_id,
        entry.outcome.value,
    )


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    guards = [admin_guard]

    @get(
        "/",
        summary="The audit log of admin changes, newest first",
        description=(
            "One entry per agent created, updated (PATCH), replaced (PUT) or deleted and per document added or "
            "deleted: time, action, target (agent id or document id), agent_id, the changed fields with old and "
            "new values (the system prompt as its length and a sha256 prefix), client address, request id. "
            f"`action` is one of {', '.join(ACTIONS)}."
        ),
    )
    async def list_audit(
        self,
        audit: NamedDependency[Auditor],
        action: ActionFilter = "",
        target: FromQuery[str | None] = None,
        agent_id: AgentIdFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> list[AuditEntryOut]:
        found = await audit.list(Page(limit, offset), action, target, agent_id)
        return [audit_entry_out(entry) for entry in found]
