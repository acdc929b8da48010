"""The contract every AgentRepository passes (subclass it and provide the `repository` fixture)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.agents import AgentRepository
from domain.agents import Agent, AgentSpec

T0 = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)  # whole milliseconds: BSON dates keep no more

SPEC = AgentSpec(name="Soporte", system_prompt="Ayuda a los clientes.")
FULL_SPEC = AgentSpec(
    name="Ventas",
    system_prompt="Vende.",
    language="en",
    model="llama-3.1-8b-instant",
    temperature=0.3,
    max_tokens=512,
    k_documents=7,
    min_score=0.25,
    greeting="Hi!",
)


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


class AgentRepositoryContract:
    """Ids from 1, never reused; ordering and paging by id; not-found as None/False."""

    @pytest.fixture
    def repository(self) -> AgentRepository:
        raise NotImplementedError("a subclass provides the `repository` fixture")

    async def test_add_numbers_agents_from_one(self, repository: AgentRepository) -> None:
        first = await repository.add(SPEC, T0)
        second = await repository.add(FULL_SPEC, T0)
        assert (first.id, second.id) == (1, 2)
        assert first == Agent(1, SPEC, T0, T0)

    async def test_get_returns_what_was_added(self, repository: AgentRepository) -> None:
        agent = await repository.add(FULL_SPEC, T0)
        assert await repository.get(agent.id) == agent

    async def test_get_unknown_is_none(self, repository: AgentRepository) -> None:
        assert await repository.get(42) is None

    async def test_ids_are_not_reused_after_delete(self, repository: AgentRepository) -> None:
        await repository.add(SPEC, T0)
        second = await repository.add(SPEC, T0)
        assert await repository.delete(second.id)
        third = await repository.add(SPEC, T0)
        assert third.id == 3

    async def test_ensure_creates_a_missing_agent_and_moves_the_counter(
        self, repository: AgentRepository
    ) -> None:
        seeded = await repository.ensure(1, SPEC, T0)
        assert seeded == Agent(1, SPEC, T0, T0)
        assert (await repository.add(FULL_SPEC, T0)).id == 2

    async def test_ensure_with_a_high_id_keeps_later_ids_above_it(self, repository: AgentRepository) -> None:
        await repository.ensure(5, SPEC, T0)
        assert (await repository.add(SPEC, T0)).id == 6

    async def test_ensure_keeps_an_existing_agent(self, repository: AgentRepository) -> None:
        original = await repository.ensure(1, SPEC, T0)
        again = await repository.ensure(1, FULL_SPEC, T0 + timedelta(hours=1))
        assert again == original
        assert await repository.get(1) == original

    async def test_list_orders_by_id_and_pages(self, repository: AgentRepository) -> None:
        added = [await repository.add(replace(SPEC, name=f"a{i}"), T0) for i in range(5)]
        assert await repository.list(limit=10, offset=0) == added
        assert await repository.list(limit=2, offset=1) == added[1:3]
        assert await repository.list(limit=2, offset=4) == added[4:]
        assert await repository.list(limit=2, offset=9) == []
        assert await repository.list(limit=0, offset=0) == []

    async def test_list_skips_deleted_agents(self, repository: AgentRepository) -> None:
        a, b, c = [await repository.add(SPEC, T0) for _ in range(3)]
        await repository.delete(b.id)
        assert await repository.list(limit=10, offset=0) == [a, c]

    async def test_save_replaces_an_agent(self, repository: AgentRepository) -> None:
        agent = await repository.add(SPEC, T0)
        changed = agent.with_changes({"name": "Nuevo", "temperature": 1.5}, T0 + timedelta(minutes=5))
        assert await repository.save(changed)
        assert await repository.get(agent.id) == changed

    async def test_save_of_an_unknown_agent_creates_nothing(self, repository: AgentRepository) -> None:
        assert not await repository.save(Agent(7, SPEC, T0, T0))
        assert await repository.get(7) is None

    async def test_delete_says_whether_it_existed(self, repository: AgentRepository) -> None:
        agent = await repository.add(SPEC, T0)
        assert await repository.delete(agent.id)
        assert not await repository.delete(agent.id)
        assert await repository.get(agent.id) is None

    async def test_concurrent_adds_get_distinct_ids(self, repository: AgentRepository) -> None:
        agents = await asyncio.gather(*(repository.add(SPEC, T0) for _ in range(20)))
        assert sorted(a.id for a in agents) == list(range(1, 21))

    async def test_times_are_timezone_aware_utc(self, repository: AgentRepository) -> None:
        agent = await repository.add(SPEC, T0)
        stored = await repository.get(agent.id)
        assert stored is not None
        assert_utc(stored.created_at)
        assert_utc(stored.updated_at)
        assert stored.created_at == T0
