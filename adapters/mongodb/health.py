"""HealthProbe for the MongoDB store: one `ping`, bounded in time, never raising."""

from __future__ import annotations

import asyncio
from typing import Any

import pymongo
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from adapters.mongodb.errors import describe
from application.ports.health import ComponentHealth, HealthProbe


class MongoHealthProbe(HealthProbe):
    """Answers `/ready` for the store: `ComponentHealth("store", ok, kind, detail)`.

    `kind` says which MongoDB it is, e.g. ``"mongodb (embedded)"`` or ``"mongodb"``. The detail of a
    failure names the fault, never the connection string.
    """

    def __init__(self, db: AsyncDatabase[Any], kind: str, timeout_s: float = 2.0) -> None:
        self._db = db
        self._kind = kind
        self._timeout_s = timeout_s

    async def health(self) -> ComponentHealth:
        try:
            with pymongo.timeout(self._timeout_s):
                await asyncio.wait_for(self._db.command({"ping": 1}), self._timeout_s + 0.5)
        except PyMongoError as error:
            return ComponentHealth("store", False, self._kind, describe("answer a ping", error))
        except TimeoutError:
            detail = f"The store did not answer a ping within {self._timeout_s:g} s."
            return ComponentHealth("store", False, self._kind, detail)
        except Exception as error:  # a probe never raises
            return ComponentHealth("store", False, self._kind, f"ping failed ({type(error).__name__}).")
        return ComponentHealth("store", True, self._kind, None)
