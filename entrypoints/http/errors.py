"""Every error leaves as JSON `{"code", "detail"}` (entrypoints/http/error_body.py) with a fitting status; never a
stack trace."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from domain.errors import (
    CentralitaError,
    DocumentTooLarge,
    InvalidInput,
    MessageTooLong,
    NotFound,
    TooManyRequests,
    Unavailable,
    UnsupportedDocumentType,
)
from domain.rules import AGENT_FIELD_RULES
from entrypoints.http.error_body import error_body

log = logging.getLogger("centralita.http")


def status_for(error: CentralitaError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, MessageTooLong | DocumentTooLarge):
        return 413
    if isinstance(error, UnsupportedDocumentType):
        return 415
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, TooManyRequests):
        return 429
    if isinstance(error, Unavailable):
        return 503
    return 400


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    """The error as its `ErrorBody`; a wait is sent as the `Retry-After` header, not in the body."""
    return Response(error_body(code, detail), status_code=status, media_type=MediaType.JSON, headers=headers)


def on_domain_error(_: Request[Any, Any, Any], error: CentralitaError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
    return error_response(status_for(error), error.code, error.detail, headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def on_http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(error, ValidationException):
        return _validation_error(error)
    code = getattr(error, "code", None) or _HTTP_CODES.get(error.status_code, "error")
    detail = error.detail if isinstance(error.detail, str) and error.detail else "The request failed."
    if error.status_code == 400 and "json" in request.headers.get("content-type", ""):
        # The only plain 400 Litestar raises on our routes is a body its JSON decoder could not read.
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    if isinstance(error, NotFoundException) and detail == "Not Found":
        detail = f"Nothing is served at {request.url.path}."
    return error_response(error.status_code, code, detail, error.headers)


def _validation_error(error: ValidationException) -> Response[dict[str, Any]]:
    """Malformed JSON is 400 `malformed_json`; JSON of the wrong shape is 422 `invalid_request`."""
    text = str(error.detail or "")
    extra = error.extra if isinstance(error.extra, list) else []
    if "JSON" in text and not extra:
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    problems = "; ".join(
        f"{item.get('key') or 'body'}: {item.get('message')}" for item in extra if isinstance(item, dict)
    )
    return error_response(422, "invalid_request", f"The request is not valid: {problems or text}.")


# msgspec's words for a declared field rule (length, pattern, bound) that a value of the right type breaks.
_BROKEN_RULE = re.compile(r"^Expected `[^`]+` (of length|matching regex|[<>]=?)")


def on_agent_validation_error(
    request: Request[Any, Any, Any], error: ValidationException
) -> Response[dict[str, Any]]:
    """Agent bodies: a field that breaks its declared rule is 422 `invalid_agent`, as when the domain finds it.

    The wrong shape (a missing or unknown field, a value of the wrong type) stays 422 `invalid_request`.
    """
    extra = error.extra if isinstance(error.extra, list) else []
    broken = [
        item
        for item in extra
        if isinstance(item, dict)
        and item.get("source") == "body"
        and _BROKEN_RULE.match(str(item.get("message", "")))
    ]
    if not broken:
        return on_http_error(request, error)
    problems = "; ".join(
        f"{item.get('key')}: {AGENT_FIELD_RULES.get(str(item.get('key')), item.get('message'))}"
        for item in broken
    )
    return error_response(422, "invalid_agent", f"The agent is not valid: {problems}")


def on_deep_json(request: Request[Any, Any, Any], error: RecursionError) -> Response[dict[str, Any]]:
    """JSON nested deeper than the decoder's recursion bound is malformed input (400), not a fault."""
    if "deserializing" not in str(error):  # msgspec's words; any other recursion is a bug
        return on_unexpected_error(request, error)
    return error_response(400, "malformed_json", "The request body is nested too deeply.")


def on_unreadable_path(request: Request[Any, Any, Any], _: ValueError) -> Response[dict[str, Any]]:
    """A static file path the file system cannot name (a NUL byte, `/widget/%00`) names nothing: 404."""
    return error_response(404, "not_found", "Nothing is served at that path.")


def on_unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side."
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    CentralitaError: on_domain_error,
    HTTPException: on_http_error,
    RecursionError: on_deep_json,
    Exception: on_unexpected_error,
}
