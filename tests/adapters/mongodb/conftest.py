"""MongoDB servers for adapter tests: one embedded SecantusDB per session, a fresh database per test.

`mongo_db` runs on the embedded server (started through EmbeddedMongoServer, i.e. `python -m secantus`
as a child process; SecantusDB is GPL and never imported). `live_mongo_db` runs on the MongoDB that
MONGODB_TEST_URI points at, and skips when it is unset. Both have the store indexes and are dropped after.
The client deliberately leaves `tz_aware` unset: the repositories must not depend on it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.indexes import ensure_indexes


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The URI of an embedded SecantusDB shared by the whole test session."""
    server = EmbeddedMongoServer(tmp_path_factory.mktemp("secantus"))
    uri = await server.start()
    try:
        yield uri
    finally:
        await server.stop()


async def _fresh_database(uri: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    db = client[f"test_{uuid.uuid4().hex}"]
    try:
        await ensure_indexes(db)
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()


@pytest.fixture
async def mongo_db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[Any]]:
    """A new, indexed database on the embedded server."""
    async for db in _fresh_database(mongo_uri):
        yield db


@pytest.fixture
async def live_mongo_db() -> AsyncIterator[AsyncDatabase[Any]]:
    """A new, indexed database on MONGODB_TEST_URI (skipped when unset)."""
    uri = os.environ.get("MONGODB_TEST_URI")
    if not uri:
        pytest.skip("MONGODB_TEST_URI is not set")
    async for db in _fresh_database(uri):
        yield db
