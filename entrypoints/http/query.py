"""Guards on the query string: parameters a route does not declare, and lenient values (422 `invalid_request`)."""

from __future__ import annotations

import re

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


_INTEGER = re.compile(r"-?[0-9]+")


def plain_query_values(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """A scalar query parameter given once, an integer one written as an integer (422 `invalid_request`).

    Litestar converts leniently: `?limit=5.0` became 5 and `?agent_id=1&agent_id=2` one of them, though the
    schema says `integer` and a single value (schemathesis ST201)."""
    problems = []
    for name, field in handler.parsed_fn_signature.parameters.items():
        values = connection.query_params.getall(name, [])
        if not values or field.is_non_string_sequence or not _plain(field):
            continue
        if len(values) > 1:
            problems.append({"key": name, "message": "given more than once", "source": "query"})
        elif _integer(field) and not _INTEGER.fullmatch(values[0]):
            problems.append({"key": name, "message": "Expected an integer", "source": "query"})
    if problems:
        raise ValidationException("Invalid query parameter.", extra=problems)


def _integer(field: FieldDefinition) -> bool:
    return (field.is_subclass_of(int) or field.has_inner_subclass_of(int)) and not (
        field.is_subclass_of(bool) or field.has_inner_subclass_of(bool)
    )


def _plain(field: FieldDefinition) -> bool:
    """A str or int parameter (optional or not): what a query string can carry, not a body or a dependency."""
    return _integer(field) or field.is_subclass_of(str) or field.has_inner_subclass_of(str)
