"""The process's one MongoDB client: to `MONGODB_URI`, or to an embedded server the app starts itself."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from adapters.mongodb.embedded_server import EmbeddedMongoServer
from adapters.mongodb.errors import describe
from adapters.mongodb.indexes import ensure_indexes
from application.ports.health import Vital

log = logging.getLogger("centralita.mongodb")
_CLOSE_TIMEOUT_S = 1.0


class StoreStartupError(RuntimeError):
    """The configured store cannot be used; the message says what to do."""


class MongoConnection(Vital):
    """Opened once in the app's lifespan (`open`), closed on shutdown (`close`)."""

    def __init__(
        self, uri: str | None, database: str, data_dir: Path, server_selection_timeout_ms: int = 10_000
    ) -> None:
        self._uri = uri
        self._database_name = database
        self._data_dir = data_dir
        self._timeout_ms = server_selection_timeout_ms
        self._server: EmbeddedMongoServer | None = None
        self._client: AsyncMongoClient[Any] | None = None

    @property
    def kind(self) -> str:
        return "mongodb" if self._uri else "mongodb (embedded)"

    @property
    def failure(self) -> str | None:
        """Why the store is gone for good (the embedded server could not be restarted), or None."""
        return self._server.failure if self._server is not None else None

    @property
    def database(self) -> AsyncDatabase[Any]:
        if self._client is None:
            raise RuntimeError("MongoConnection.open() has not run")
        return self._client[self._database_name]

    async def open(self) -> None:
        uri = self._uri
        if uri is None:
            self._server = EmbeddedMongoServer(self._data_dir)
            uri = await self._server.start()  # raises EmbeddedServerError with what to do
            log.info("store: embedded MongoDB-compatible server, data in %s", self._server.storage_path)
        self._client = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=self._timeout_ms, appname="centralita"
        )
        try:
            await self._client.admin.command("ping")
            await ensure_indexes(self.database)
        except PyMongoError as error:
            await self.close()
            raise StoreStartupError(
                f"MongoDB is not reachable: {describe('answer at startup', error)} "
                "Check MONGODB_URI (or unset it to use the embedded server), or set STORAGE=memory."
            ) from error
        except Exception:
            await self.close()
            raise
        if self._uri:
            log.info("store: MongoDB at %s, database %s", _redact(self._uri), self._database_name)

    async def close(self) -> None:
        if self._client is not None:
            # Closing ends the driver's sessions on the server: bounded, so a dead server cannot hold the
            # shutdown for the whole server-selection timeout.
            with pymongo.timeout(_CLOSE_TIMEOUT_S):
                await self._client.close()
            self._client = None
        if self._server is not None:
            await self._server.stop()
            self._server = None


def _redact(uri: str) -> str:
    """The URI's host part only: credentials never reach a log."""
    rest = uri.split("://", 1)[-1]
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return host
