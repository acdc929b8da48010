"""The contract every ConversationRepository passes (subclass it and provide the `repository` fixture)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from application.ports.conversations import ConversationRepository
from domain.conversations import Conversation, Message, MessageStatus, Role, new_id
from domain.knowledge import Source
from domain.usage import Usage
from tests.contracts.agents import assert_utc

T0 = datetime(2025, 3, 1, 12, 0, 0, 789000, tzinfo=UTC)  # whole milliseconds: BSON dates keep no more


def message(conversation_id: str, text: str = "hola", at: datetime = T0, **fields: object) -> Message:
    return Message(new_id(), conversation_id, Role.USER, text, created_at=at, **fields)  # type: ignore[arg-type]


def reply(conversation_id: str, at: datetime = T0, usage: Usage | None = None) -> Message:
    return Message(
        new_id(),
        conversation_id,
        Role.ASSISTANT,
        "",
        created_at=at,
        status=MessageStatus.INTERRUPTED,
        model="m-1",
        usage=usage,
    )


class ConversationRepositoryContract:
    """One conversation per (session, agent); messages in seq order; usage totals that add up."""

    @pytest.fixture
    def repository(self) -> ConversationRepository:
        raise NotImplementedError("a subclass provides the `repository` fixture")

    # -- open / get / find ------------------------------------------------------------------------

    async def test_open_creates_an_empty_conversation(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s-1", 1, T0)
        assert conversation == Conversation(conversation.id, "s-1", 1, T0, T0, 0, Usage())
        assert await repository.get(conversation.id) == conversation

    async def test_open_returns_the_same_conversation_later(self, repository: ConversationRepository) -> None:
        first = await repository.open("s-1", 1, T0)
        again = await repository.open("s-1", 1, T0 + timedelta(days=1))
        assert again == first

    async def test_one_conversation_per_visitor_and_agent(self, repository: ConversationRepository) -> None:
        ids = {(await repository.open(session, agent, T0)).id for session in ("a", "b") for agent in (1, 2)}
        assert len(ids) == 4

    async def test_racing_opens_agree_on_one_conversation(self, repository: ConversationRepository) -> None:
        opened = await asyncio.gather(*(repository.open("race", 1, T0) for _ in range(20)))
        assert len({c.id for c in opened}) == 1
        assert await repository.find(session_id="race", agent_id=None, limit=10, offset=0) == [opened[0]]

    async def test_get_unknown_is_none(self, repository: ConversationRepository) -> None:
        assert await repository.get("nope") is None

    async def test_find_filters_and_orders_by_last_update(self, repository: ConversationRepository) -> None:
        a1 = await repository.open("a", 1, T0)
        a2 = await repository.open("a", 2, T0)
        b1 = await repository.open("b", 1, T0)
        await repository.append(message(a1.id, at=T0 + timedelta(minutes=3)))
        await repository.append(message(b1.id, at=T0 + timedelta(minutes=2)))
        await repository.append(message(a2.id, at=T0 + timedelta(minutes=1)))

        async def ids(
            session_id: str | None, agent_id: int | None, limit: int = 10, offset: int = 0
        ) -> list[str]:
            found = await repository.find(
                session_id=session_id, agent_id=agent_id, limit=limit, offset=offset
            )
            return [c.id for c in found]

        assert await ids(None, None) == [a1.id, b1.id, a2.id]
        assert await ids("a", None) == [a1.id, a2.id]
        assert await ids(None, 1) == [a1.id, b1.id]
        assert await ids("b", 1) == [b1.id]
        assert await ids("b", 2) == []
        assert await ids(None, None, limit=1, offset=1) == [b1.id]
        assert await ids(None, None, limit=5, offset=3) == []
        assert await ids(None, None, limit=0) == []

    async def test_find_returns_current_totals(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        await repository.append(reply(conversation.id, usage=Usage(1, 2, 3)))
        [found] = await repository.find(session_id="s", agent_id=1, limit=1, offset=0)
        assert (found.message_count, found.usage) == (1, Usage(1, 2, 3))

    # -- append -------------------------------------------------------------------------------------

    async def test_append_numbers_messages_and_updates_the_conversation(
        self, repository: ConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        later = T0 + timedelta(seconds=30)
        first = await repository.append(message(conversation.id))
        second = await repository.append(reply(conversation.id, at=later, usage=Usage(10, 5, 15)))
        assert (first.seq, second.seq) == (1, 2)
        stored = await repository.get(conversation.id)
        assert stored is not None
        assert stored.message_count == 2
        assert stored.usage == Usage(10, 5, 15)
        assert stored.updated_at == later
        assert stored.created_at == T0

    async def test_append_never_moves_updated_at_back(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        await repository.append(message(conversation.id, at=T0 + timedelta(minutes=5)))
        await repository.append(message(conversation.id, at=T0 + timedelta(minutes=1)))
        stored = await repository.get(conversation.id)
        assert stored is not None and stored.updated_at == T0 + timedelta(minutes=5)

    async def test_appended_messages_read_back_whole(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        full = Message(
            new_id(),
            conversation.id,
            Role.ASSISTANT,
            "Según la guía, sí. ¿Algo más? 🙂",
            created_at=T0,
            status=MessageStatus.FAILED,
            model="llama",
            usage=Usage(7, 8, 15),
            sources=(Source("d1", "Guía", "…el fragmento…", 0.8123), Source("d2", "FAQ", "otro", -0.5)),
            error="llm_stream_failed",
        )
        stored = await repository.append(full)
        assert stored == replace(full, seq=1)
        assert await repository.messages(conversation.id, limit=10, offset=0) == [stored]

    async def test_append_to_an_unknown_conversation_raises_key_error(
        self, repository: ConversationRepository
    ) -> None:
        with pytest.raises(KeyError):
            await repository.append(message("no-such-conversation"))

    async def test_racing_appends_get_distinct_increasing_seqs(
        self, repository: ConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        sent = [message(conversation.id, f"m{i}", usage=Usage(1, 1, 2)) for i in range(50)]
        stored = await asyncio.gather(*(repository.append(m) for m in sent))
        assert sorted(m.seq for m in stored) == list(range(1, 51))
        listed = await repository.messages(conversation.id, limit=100, offset=0)
        assert [m.seq for m in listed] == list(range(1, 51))
        assert {m.id: m.seq for m in listed} == {m.id: m.seq for m in stored}
        final = await repository.get(conversation.id)
        assert final is not None and (final.message_count, final.usage) == (50, Usage(50, 50, 100))

    # -- messages / recent ----------------------------------------------------------------------------

    async def test_messages_are_oldest_first_and_paged(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        stored = [await repository.append(message(conversation.id, f"m{i}")) for i in range(7)]
        assert await repository.messages(conversation.id, limit=100, offset=0) == stored
        assert await repository.messages(conversation.id, limit=3, offset=2) == stored[2:5]
        assert await repository.messages(conversation.id, limit=3, offset=6) == stored[6:]
        assert await repository.messages(conversation.id, limit=3, offset=7) == []
        assert await repository.messages(conversation.id, limit=0, offset=0) == []

    async def test_messages_of_an_unknown_conversation_are_empty(
        self, repository: ConversationRepository
    ) -> None:
        assert await repository.messages("nope", limit=10, offset=0) == []
        assert await repository.recent("nope", 10) == []

    async def test_recent_returns_the_last_messages_oldest_first(
        self, repository: ConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        stored = [await repository.append(message(conversation.id, f"m{i}")) for i in range(12)]
        assert await repository.recent(conversation.id, 5) == stored[-5:]
        assert await repository.recent(conversation.id, 1) == stored[-1:]
        assert await repository.recent(conversation.id, 12) == stored
        assert await repository.recent(conversation.id, 50) == stored
        assert await repository.recent(conversation.id, 0) == []

    async def test_recent_of_an_empty_conversation_is_empty(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        assert await repository.recent(conversation.id, 10) == []

    async def test_conversations_do_not_share_messages(self, repository: ConversationRepository) -> None:
        a = await repository.open("s", 1, T0)
        b = await repository.open("s", 2, T0)
        in_a = await repository.append(message(a.id, "para a"))
        in_b = await repository.append(message(b.id, "para b"))
        assert in_b.seq == 1
        assert await repository.recent(a.id, 10) == [in_a]
        assert await repository.messages(b.id, limit=10, offset=0) == [in_b]

    # -- update_message -------------------------------------------------------------------------------

    async def test_update_message_replaces_the_reply(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        question = await repository.append(message(conversation.id))
        placeholder = await repository.append(reply(conversation.id))
        final = replace(
            placeholder,
            content="Respuesta",
            status=MessageStatus.COMPLETE,
            model="m-2",
            usage=Usage(100, 20, 120),
            sources=(Source("d", "t", "s", 0.5),),
            error=None,
        )
        await repository.update_message(final)
        assert await repository.messages(conversation.id, limit=10, offset=0) == [question, final]
        stored = await repository.get(conversation.id)
        assert stored is not None and stored.usage == Usage(100, 20, 120) and stored.message_count == 2

    async def test_update_message_keeps_role_time_and_seq(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        placeholder = await repository.append(reply(conversation.id))
        await repository.update_message(replace(placeholder, content="x", status=MessageStatus.COMPLETE))
        [stored] = await repository.recent(conversation.id, 1)
        assert (stored.role, stored.created_at, stored.seq) == (Role.ASSISTANT, T0, 1)
        assert (stored.content, stored.status) == ("x", MessageStatus.COMPLETE)

    async def test_update_message_adjusts_usage_by_the_difference(
        self, repository: ConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        await repository.append(reply(conversation.id, usage=Usage(1, 1, 2)))
        target = await repository.append(reply(conversation.id, usage=Usage(10, 10, 20)))

        async def total() -> Usage:
            stored = await repository.get(conversation.id)
            assert stored is not None
            return stored.usage

        assert await total() == Usage(11, 11, 22)
        await repository.update_message(replace(target, usage=Usage(30, 5, 35)))
        assert await total() == Usage(31, 6, 37)
        await repository.update_message(replace(target, usage=None, status=MessageStatus.FAILED, error="x"))
        assert await total() == Usage(1, 1, 2)
        await repository.update_message(replace(target, usage=Usage(2, 2, 4)))
        assert await total() == Usage(3, 3, 6)

    async def test_update_of_an_unknown_message_raises_key_error(
        self, repository: ConversationRepository
    ) -> None:
        conversation = await repository.open("s", 1, T0)
        with pytest.raises(KeyError):
            await repository.update_message(reply(conversation.id))
        stored = await repository.get(conversation.id)
        assert stored is not None and stored.message_count == 0

    # -- time -----------------------------------------------------------------------------------------

    async def test_times_are_timezone_aware_utc(self, repository: ConversationRepository) -> None:
        conversation = await repository.open("s", 1, T0)
        await repository.append(message(conversation.id))
        stored = await repository.get(conversation.id)
        [first] = await repository.messages(conversation.id, limit=1, offset=0)
        assert stored is not None
        for moment in (stored.created_at, stored.updated_at, first.created_at):
            assert_utc(moment)
