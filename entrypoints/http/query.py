"""A guard that refuses query parameters a route does not declare (422 `invalid_request`)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler


def declared_query_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """`?offset=` on a route that pages by `?limit=` alone would be silently ignored: it is refused instead."""
    unknown = sorted(set(connection.query_params) - set(handler.parsed_fn_signature.parameters))
    if unknown:
        raise ValidationException(
            "Unknown query parameter.",
            extra=[{"key": name, "message": "not a parameter of this route"} for name in unknown],
        )
