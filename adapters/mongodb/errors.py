"""How MongoDB faults reach the application: every driver error becomes `StoreUnavailable`.

Driver errors include what BSON cannot encode (``bson.errors.BSONError``: ``InvalidDocument``,
``DocumentTooLarge`` above 16 MB) and ``OverflowError`` for an integer beyond 64 bits.

The repositories decorate each port method with :func:`store_operation`. A ``PyMongoError`` raised
while the method talks to the server (no server selectable, connection lost, write or command
refused, …) is re-raised as ``domain.errors.StoreUnavailable`` chained ``from`` the original, so
nothing is swallowed and no driver type leaks past the adapter. The human detail names the failed
action and the error's class (and server error code), never the connection string or host.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from bson.errors import BSONError
from pymongo.errors import OperationFailure, PyMongoError

from domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


DRIVER_ERRORS = (PyMongoError, BSONError, OverflowError)
DriverError = PyMongoError | BSONError | OverflowError


def describe(action: str, error: DriverError) -> str:
    """A sentence for clients and logs: what failed and what kind of fault, without credentials."""
    kind = type(error).__name__
    if isinstance(error, OperationFailure) and error.code is not None:
        name = (error.details or {}).get("codeName")
        kind += f" {error.code}" + (f" ({name})" if isinstance(name, str) else "")
    return f"The conversation store is unavailable: could not {action} ({kind})."


def store_unavailable(action: str, error: DriverError) -> StoreUnavailable:
    """The domain error for `error` raised while doing `action` (raise it `from error`)."""
    return StoreUnavailable(describe(action, error))


def store_operation(
    action: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate an async method so a driver error becomes `StoreUnavailable` naming `action`."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(method)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except DRIVER_ERRORS as error:
                raise store_unavailable(action, error) from error

        return guarded

    return decorate
