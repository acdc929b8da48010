"""The contract every AuditLog passes (subclass it and provide the `audit_log` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.ports.audit import AuditLog
from domain.audit import Actor, AuditAction, AuditEntry, FieldChange

T0 = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)  # whole milliseconds: BSON dates keep no more
ACTOR = Actor("203.0.113.7", "req-1")


def entry(
    seconds: int = 0,
    action: AuditAction = AuditAction.AGENT_UPDATED,
    target: str = "3",
    agent_id: int | None = 3,
    changes: tuple[FieldChange, ...] = (FieldChange("name", "Old", "New"),),
    actor: Actor = ACTOR,
) -> AuditEntry:
    return AuditEntry(T0 + timedelta(seconds=seconds), action, target, agent_id, changes, actor)


class AuditLogContract:
    """Entries come back as recorded, newest first, paged and filtered."""

    @pytest.fixture
    def audit_log(self) -> AuditLog:
        raise NotImplementedError("a subclass provides the `audit_log` fixture")

    async def test_empty_log_lists_nothing(self, audit_log: AuditLog) -> None:
        assert await audit_log.list(100, 0) == []

    async def test_an_entry_comes_back_as_recorded(self, audit_log: AuditLog) -> None:
        recorded = entry(
            changes=(
                FieldChange("name", "Soporte", "Ventas"),
                FieldChange("temperature", None, 0.3),
                FieldChange("max_tokens", 512, None),
                FieldChange("system_prompt", "<10 chars, sha256 aa>", "<12 chars, sha256 bb>"),
            )
        )
        await audit_log.record(recorded)
        [found] = await audit_log.list(100, 0)
        assert found == recorded
        assert found.time.utcoffset() == timedelta(0)

    async def test_an_entry_without_changes_nor_actor(self, audit_log: AuditLog) -> None:
        recorded = entry(action=AuditAction.DOCUMENT_DELETED, target="doc1", changes=(), actor=Actor())
        await audit_log.record(recorded)
        assert await audit_log.list(100, 0) == [recorded]

    async def test_newest_first(self, audit_log: AuditLog) -> None:
        for seconds in (1, 3, 2):
            await audit_log.record(entry(seconds, target=str(seconds)))
        assert [e.target for e in await audit_log.list(100, 0)] == ["3", "2", "1"]

    async def test_equal_times_list_the_last_recorded_first(self, audit_log: AuditLog) -> None:
        for target in ("a", "b", "c"):
            await audit_log.record(entry(target=target))
        assert [e.target for e in await audit_log.list(100, 0)] == ["c", "b", "a"]

    async def test_limit_and_offset(self, audit_log: AuditLog) -> None:
        for seconds in range(5):
            await audit_log.record(entry(seconds, target=str(seconds)))
        assert [e.target for e in await audit_log.list(2, 0)] == ["4", "3"]
        assert [e.target for e in await audit_log.list(2, 2)] == ["2", "1"]
        assert [e.target for e in await audit_log.list(2, 4)] == ["0"]
        assert await audit_log.list(2, 5) == []

    async def test_filters(self, audit_log: AuditLog) -> None:
        await audit_log.record(entry(0, AuditAction.AGENT_CREATED, "3", 3))
        await audit_log.record(entry(1, AuditAction.DOCUMENT_ADDED, "doc1", 3))
        await audit_log.record(entry(2, AuditAction.AGENT_CREATED, "4", 4))
        await audit_log.record(entry(3, AuditAction.DOCUMENT_DELETED, "doc1", 3))

        def targets(found: list[AuditEntry]) -> list[str]:
            return [f"{e.action}:{e.target}" for e in found]

        assert targets(await audit_log.list(100, 0, action="agent.created")) == [
            "agent.created:4",
            "agent.created:3",
        ]
        assert targets(await audit_log.list(100, 0, target="doc1")) == [
            "document.deleted:doc1",
            "document.added:doc1",
        ]
        assert len(await audit_log.list(100, 0, agent_id=3)) == 3
        assert targets(await audit_log.list(100, 0, action="document.added", target="doc1", agent_id=3)) == [
            "document.added:doc1"
        ]
        assert await audit_log.list(100, 0, action="agent.deleted") == []
        assert await audit_log.list(100, 0, agent_id=99) == []
