"""The audit of admin changes: recording an entry, and reading the log.

Where the audit is recorded, and why there: *what changed* (the agent before and after, the document added)
is known only inside the use cases, *who asked* (client address, request id) only at the entrypoint. So the
entrypoint builds an `Actor` from the request and passes it to the use case (`AgentService`,
`KnowledgeService`), which records one entry through the `AuditLog` port right after its change succeeded.
Recording in a middleware would see the request but not the old values; recording in the adapters would see
the values but not the actor, and would tie auditing to a storage technology.

Ordering and failure: the entry is written after the change, in the same request. A change that failed
writes nothing (nothing changed). If the change succeeded but its entry cannot be stored, the request fails
loudly — StoreUnavailable, HTTP 503 `store_unavailable` — and an ERROR line on `centralita.audit` carries the
entry (action, target, fields, client, request id), so the change is never unaccounted for. The change itself
is not rolled back (the stores have no transactions across collections); the operator is told to check.

Every stored entry is mirrored as one INFO line on `centralita.audit`: action, target, the names of the
changed fields, client address, request id — never values, so no prompt text or secret reaches the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from application.paging import Page
from application.ports.audit import AuditLog
from domain.audit import AuditAction, AuditEntry
from domain.bounds import validate_agent_id
from domain.clock import utc_now
from domain.errors import InvalidInput, StoreUnavailable

log = logging.getLogger("centralita.audit")

ACTIONS = tuple(action.value for action in AuditAction)


class Auditor:
    """Records admin changes (for the use cases) and reads them back (for operators)."""

    def __init__(self, audit_log: AuditLog, clock: Callable[[], datetime] = utc_now) -> None:
        self._log = audit_log
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def record(self, entry: AuditEntry) -> None:
        try:
            await self._log.record(entry)
        except StoreUnavailable:
            log.error("audit entry NOT stored: %s", describe(entry))
            raise
        log.info("%s", describe(entry))

    async def list(
        self,
        page: Page,
        action: str | None = None,
        target: str | None = None,
        agent_id: int | None = None,
    ) -> list[AuditEntry]:
        action = action or None  # `?action=` is no filter, as the schema allows
        if agent_id is not None:
            validate_agent_id(agent_id)
        if action is not None and action not in ACTIONS:
            raise InvalidInput(f"action must be one of: {', '.join(ACTIONS)}.")
        return await self._log.list(page.limit, page.offset, action=action, target=target, agent_id=agent_id)


def describe(entry: AuditEntry) -> str:
    """One log line for an entry: what and who, the changed field names, no values."""
    fields = ",".join(entry.changed_fields) or "-"
    agent = (
        f" agent={entry.agent_id}"
        if entry.agent_id is not None and str(entry.agent_id) != entry.target
        else ""
    )
    return (
        f"{entry.action} target={entry.target}{agent} fields={fields} outcome={entry.outcome} "
        f"client={entry.actor.client_address or '-'} request_id={entry.actor.request_id or '-'}"
    )
