"""AgentRepository on MongoDB: one document per agent, integer ids from an atomic counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongodb.documents import (
    AGENT_COUNTER,
    AGENTS,
    COUNTERS,
    agent_document,
    agent_from,
    collection,
)
from adapters.mongodb.errors import store_operation
from application.ports.agents import AgentRepository
from domain.agents import Agent, AgentSpec

_MAX_ID_ATTEMPTS = 1000  # ids taken by `ensure` ahead of the counter are skipped, one by one


class MongoAgentRepository(AgentRepository):
    """Agents in the `agents` collection (`_id` = agent id), numbered by `counters/{_id: "agents"}`.

    The counter only grows (`$inc`, and `$max` when `ensure` seeds an id), so an id is never given
    twice, not even after its agent was deleted.
    """

    def __init__(self, db: AsyncDatabase[Any], *, journal: bool = True) -> None:
        self._agents = collection(db, AGENTS, journal=journal)
        self._counters = collection(db, COUNTERS, journal=journal)

    @store_operation("store a new agent")
    async def add(self, spec: AgentSpec, now: datetime) -> Agent:
        for _ in range(_MAX_ID_ATTEMPTS):
            agent = agent_from(agent_document(Agent(await self._next_id(), spec, now, now)))
            try:
                await self._agents.insert_one(agent_document(agent))
            except DuplicateKeyError:  # the id was seeded by `ensure` before the counter caught up
                continue
            return agent
        raise RuntimeError(f"no free agent id after {_MAX_ID_ATTEMPTS} attempts")

    @store_operation("seed an agent")
    async def ensure(self, agent_id: int, spec: AgentSpec, now: datetime) -> Agent:
        # Raise the counter first: an `add` that runs after this can no longer pick `agent_id`.
        await self._counters.update_one({"_id": AGENT_COUNTER}, {"$max": {"value": agent_id}}, upsert=True)
        fields = agent_document(Agent(agent_id, spec, now, now))
        del fields["_id"]
        try:
            document = await self._agents.find_one_and_update(
                {"_id": agent_id},
                {"$setOnInsert": fields},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # a racing upsert created it first
            document = None
        if document is None:  # also: SecantusDB 0.7 answers a racing upsert with no document
            document = await self._agents.find_one({"_id": agent_id})
        assert document is not None
        return agent_from(document)

    @store_operation("read an agent")
    async def get(self, agent_id: int) -> Agent | None:
        document = await self._agents.find_one({"_id": agent_id})
        return None if document is None else agent_from(document)

    @store_operation("list agents")
    async def list(self, limit: int, offset: int) -> list[Agent]:
        if limit <= 0:
            return []
        cursor = self._agents.find().sort("_id", ASCENDING).skip(max(offset, 0)).limit(limit)
        return [agent_from(document) async for document in cursor]

    @store_operation("save an agent")
    async def save(self, agent: Agent) -> bool:
        result = await self._agents.replace_one({"_id": agent.id}, agent_document(agent))
        return result.matched_count == 1

    @store_operation("delete an agent")
    async def delete(self, agent_id: int) -> bool:
        result = await self._agents.delete_one({"_id": agent_id})
        return result.deleted_count == 1

    async def _next_id(self) -> int:
        # `$inc` without upsert: a racing upsert may be answered without its document (SecantusDB 0.7),
        # and a counter value must never be guessed. The counter is created, race-free, on first use.
        for _ in range(2):
            counter = await self._counters.find_one_and_update(
                {"_id": AGENT_COUNTER}, {"$inc": {"value": 1}}, return_document=ReturnDocument.AFTER
            )
            if counter is not None:
                return int(counter["value"])
            await self._counters.update_one(
                {"_id": AGENT_COUNTER}, {"$setOnInsert": {"value": 0}}, upsert=True
            )
        raise RuntimeError("the agent id counter could not be created")
