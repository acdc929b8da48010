"""The contract every VisitorRepository passes (subclass it and provide the `repository` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.visitors import VisitorRepository
from domain.visitors import Visitor
from tests.contracts.agents import assert_utc

T0 = datetime(2025, 3, 1, 12, 0, 0, 456000, tzinfo=UTC)


class VisitorRepositoryContract:
    """One visitor per session: created on first contact, origin from then, every message counted."""

    @pytest.fixture
    def repository(self) -> VisitorRepository:
        raise NotImplementedError("a subclass provides the `repository` fixture")

    async def test_first_message_creates_the_visitor(self, repository: VisitorRepository) -> None:
        visitor = await repository.record_message("s-1", "web", T0)
        assert visitor == Visitor("s-1", "web", T0, T0, 1)
        assert await repository.get("s-1") == visitor

    async def test_later_messages_keep_origin_and_first_seen(self, repository: VisitorRepository) -> None:
        await repository.record_message("s-1", "whatsapp", T0)
        later = T0 + timedelta(minutes=3)
        visitor = await repository.record_message("s-1", "web", later)
        assert visitor == Visitor("s-1", "whatsapp", T0, later, 2)
        assert await repository.get("s-1") == visitor

    async def test_get_unknown_is_none(self, repository: VisitorRepository) -> None:
        assert await repository.get("nobody") is None

    async def test_sessions_are_independent(self, repository: VisitorRepository) -> None:
        await repository.record_message("a", "web", T0)
        await repository.record_message("a", "web", T0)
        b = await repository.record_message("b", "voice", T0)
        assert b.message_count == 1 and b.origin == "voice"
        a = await repository.get("a")
        assert a is not None and a.message_count == 2

    async def test_concurrent_first_contacts_count_every_message(self, repository: VisitorRepository) -> None:
        await asyncio.gather(*(repository.record_message("race", "web", T0) for _ in range(20)))
        visitor = await repository.get("race")
        assert visitor is not None and visitor.message_count == 20

    async def test_times_are_timezone_aware_utc(self, repository: VisitorRepository) -> None:
        await repository.record_message("s-1", "web", T0)
        visitor = await repository.get("s-1")
        assert visitor is not None
        assert_utc(visitor.first_seen)
        assert_utc(visitor.last_seen)
