"""Guards on the query string: parameters a route does not declare, and lenient values (422 `invalid_request`)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.typing import FieldDefinition


def declared_query_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """`?offset=` on a route that pages by `?limit=` alone would be silently ignored: it is refused instead."""
    unknown = sorted(set(connection.query_params) - set(handler.parsed_fn_signature.parameters))
    if unknown:
        raise ValidationException(
            "Unknown query parameter.",
            extra=[{"key": name, "message": "not a parameter of this route"} for name in unknown],
        )


def plain_query_values(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """A scalar query parameter is given once (422 `invalid_request`): Litestar kept one of
    `?agent_id=1&agent_id=2`, though the schema says a single value (schemathesis ST201). `?limit=5.0` stays
    accepted: JSON Schema counts 5.0 as an integer."""
    problems = [
        {"key": name, "message": "given more than once", "source": "query"}
        for name, field in handler.parsed_fn_signature.parameters.items()
        if len(connection.query_params.getall(name, [])) > 1
        and not field.is_non_string_sequence
        and _plain(field)
    ]
    if problems:
        raise ValidationException("Invalid query parameter.", extra=problems)


def _plain(field: FieldDefinition) -> bool:
    """A str or int parameter (optional or not): what a query string can carry, not a body or a dependency."""
    return any(field.is_subclass_of(kind) or field.has_inner_subclass_of(kind) for kind in (int, str))
