"""The error answers every operation may give, declared in the OpenAPI schema (clients and fuzzers read it),
the session id rule on every `session_id` parameter, and the configured message length.

Every error is an `ErrorBody` (entrypoints/http/error_body.py), declared once as the `ErrorBody` component;
which statuses can happen is the same list for every route, so it is added to each operation once the app is
built, rather than repeated on each handler.
Request structs that refuse unknown fields (`forbid_unknown_fields`) are declared closed
(`additionalProperties: false`), which Litestar does not do by itself.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Reference, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from domain.rules import MAX_SOURCE_CHARS, MAX_TITLE_CHARS, NON_BLANK, model_pattern
from entrypoints.http.error_body import ErrorBody
from entrypoints.http.schemas import SESSION_ID_SCHEMA_PATTERN

ERROR_STATUSES = {
    "400": "Malformed request (e.g. the body is not JSON), or a Host not served (`invalid_host`).",
    "401": "A valid X-API-Key is required (admin routes, ADMIN_API_KEY set).",
    "403": "Admin routes answer only loopback clients while ADMIN_API_KEY is unset; a foreign Origin (`forbidden_origin`).",
    "404": "Nothing with that id (or nothing served at that path).",
    "405": "Method not allowed on this path.",
    "409": "Conflict with the current state.",
    "413": "The message or the body is too large (`message_too_long`, `request_too_large`).",
    "415": "Unsupported media or document type.",
    "422": "Well-formed but invalid (`invalid_session_id`, `empty_message`, `invalid_characters`, …).",
    "429": "Rate limited (`rate_limited`, also too many wrong X-API-Keys) or daily token quota spent (`quota_exceeded`); see Retry-After.",
    "500": "An unexpected failure on our side (`internal_error`); never any internal detail.",
    "503": "A dependency is unavailable (`llm_unavailable`, `store_unavailable`, …).",
}

_JSON_TYPES = {str: OpenAPIType.STRING, float: OpenAPIType.NUMBER, int: OpenAPIType.INTEGER}


def error_body_schema() -> Schema:
    """The `ErrorBody` struct as an OpenAPI schema: its fields, their types, the required ones."""
    properties: dict[str, Schema | Reference] = {}
    required = []
    for field in msgspec.structs.fields(ErrorBody):
        kind = field.type.__args__[0] if hasattr(field.type, "__args__") else field.type  # `float | None`
        properties[field.encode_name] = Schema(type=_JSON_TYPES[kind])
        if field.required:
            required.append(field.encode_name)
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=required)


def declare_error_responses(app: Litestar) -> None:
    """Every operation's error statuses, each with the `ErrorBody` schema (also a named component for clients'
    generators; inline in the responses, which is what schemathesis and the tests read)."""
    error_schema = error_body_schema()
    components = app.openapi_schema.components
    components.schemas = {**(components.schemas or {}), ErrorBody.__name__: error_schema}
    for path_item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status, description in ERROR_STATUSES.items():
                # Replaces Litestar's own 400 (`status_code`, `extra`): every error leaves as an ErrorBody.
                responses[status] = OpenAPIResponse(
                    description=description,
                    content={"application/json": OpenAPIMediaType(schema=error_schema)},
                )
            operation.responses = responses
            for parameter in operation.parameters or []:
                # Path and query session ids follow the visitor rule (checked by the use cases, 422).
                if getattr(parameter, "name", None) == "session_id" and isinstance(parameter.schema, Schema):
                    parameter.schema.pattern = SESSION_ID_SCHEMA_PATTERN


# One server-sent event as its fields (what OpenAPI 3.2's itemSchema describes, and what schemathesis checks
# each event of the stream against): `data` is one JSON event of docs/api.md, `id` its event id when it has one.
_SSE_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "data": Schema(type=OpenAPIType.STRING, description="One stream event as JSON (docs/api.md)."),
        "event": Schema(type=OpenAPIType.STRING),
        "id": Schema(type=OpenAPIType.STRING),
        "retry": Schema(type=OpenAPIType.INTEGER),
    },
    required=["data"],
)


def declare_event_stream(app: Litestar, path: str, method: str = "post") -> None:
    """An SSE route's 200 is `text/event-stream` (an `id:` and a `data:` JSON line per event), not JSON."""
    operation = getattr((app.openapi_schema.paths or {}).get(path), method, None)
    if operation is None or not operation.responses:
        return
    operation.responses["200"] = OpenAPIResponse(
        description="Server-sent events, each with its `id:` (event_id): visitor_message, start, sources, "
        "token…, then end or error (docs/api.md).",
        content={"text/event-stream": OpenAPIMediaType(schema=_SSE_EVENT)},
    )


def declare_closed_shapes(app: Litestar, *structs: type[msgspec.Struct]) -> None:
    """Mark the component schemas of these `forbid_unknown_fields` structs `additionalProperties: false`."""
    schemas: dict[str, Any] = dict(app.openapi_schema.components.schemas or {})
    for struct in structs:
        schema = schemas.get(struct.__name__)
        if isinstance(schema, Schema) and struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False


def declare_message_limit(app: Litestar, max_chars: int, *structs: type[msgspec.Struct]) -> None:
    """The visitor message's `maxLength` is the configured MAX_MESSAGE_CHARS (a setting, not a constant)."""
    schemas: dict[str, Any] = dict(app.openapi_schema.components.schemas or {})
    for struct in structs:
        schema = schemas.get(struct.__name__)
        for name in ("message", "mensaje"):
            field = (schema.properties or {}).get(name) if isinstance(schema, Schema) else None
            if isinstance(field, Schema):
                field.max_length = max_chars
                field.description = f"Non-blank text of at most {max_chars} characters (MAX_MESSAGE_CHARS); no control characters."


def declare_model_rule(
    app: Litestar, providers: tuple[str, ...] | None, *structs: type[msgspec.Struct]
) -> None:
    """An agent's `model` may name only the providers this server can build (the agent is refused otherwise)."""
    if providers is None:
        return
    schemas: dict[str, Any] = dict(app.openapi_schema.components.schemas or {})
    for struct in structs:
        schema = schemas.get(struct.__name__)
        field = (schema.properties or {}).get("model") if isinstance(schema, Schema) else None
        for option in [field, *(field.one_of or [])] if isinstance(field, Schema) else []:
            if isinstance(option, Schema) and option.pattern:
                option.pattern = model_pattern(providers)
                option.description = f"{option.description or ''} Providers: {', '.join(providers)}.".strip()


def declare_document_body(
    app: Litestar, path: str, title_chars: int = MAX_TITLE_CHARS, source_chars: int = MAX_SOURCE_CHARS
) -> None:
    """The JSON shape `POST` of a document reads by hand (the handler takes the raw request), with its rules."""
    path_item = (app.openapi_schema.paths or {}).get(path)
    operation = getattr(path_item, "post", None)
    if operation is None:
        return
    body = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "title": Schema(type=OpenAPIType.STRING, pattern=NON_BLANK, max_length=title_chars),
            "text": Schema(
                type=OpenAPIType.STRING,
                pattern=NON_BLANK,
                description=(
                    "Not blank. Control characters other than tab and line breaks are stored as spaces "
                    "(a PDF's page breaks are form feeds)."
                ),
            ),
            "source": Schema(
                one_of=[
                    Schema(type=OpenAPIType.STRING, max_length=source_chars),
                    Schema(type=OpenAPIType.NULL),
                ]
            ),
        },
        required=["title", "text"],
        additional_properties=False,
    )
    operation.request_body = RequestBody(
        content={"application/json": OpenAPIMediaType(schema=body)}, required=True
    )
