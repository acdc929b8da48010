"""Who may call the admin routes: a matching `X-API-Key`, or, with no ADMIN_API_KEY set, loopback clients only.

Browsers are held to more (cross-site request forgery): an `Origin` must be this server's own or listed in
CORS_ORIGINS (`*` lists none here), and a body must be JSON (multipart only where a route says so), since a
page may send text/plain or a form to any site without a preflight. Wrong keys are throttled per address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import UTC, datetime
from math import ceil
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from application.ports.limits import RateLimiter
from domain.errors import RateLimited
from entrypoints.http.client_address import client_address, is_forwarded

ADMIN_KEY_HEADER = "X-API-Key"
log = logging.getLogger("centralita.security")
audit_log = logging.getLogger("centralita.audit")  # refused admin calls, next to the recorded changes
ACCEPTS_MULTIPART = "accepts_multipart"  # a route handler's `opt` flag: multipart/form-data bodies allowed
_WRITES = frozenset({"POST", "PUT", "PATCH"})


class ForbiddenOrigin(HTTPException):
    status_code = 403
    code = "forbidden_origin"


class UnsupportedMediaType(HTTPException):
    status_code = 415


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in ("localhost", "testclient"):  # Litestar's test client reports this host
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    _check_browser_request(connection, handler)
    admin_key = connection.app.state.settings.admin_api_key
    if admin_key is None:
        # A request relayed by a proxy on this host arrives from loopback on behalf of someone else: the
        # loopback rule only admits clients that are local themselves, so forwarded requests are refused.
        if is_forwarded(connection) or not is_loopback(client_address(connection)):
            _log_refusal(connection, 403, "not a local client and ADMIN_API_KEY is unset")
            raise PermissionDeniedException(
                "Admin routes answer only local clients while ADMIN_API_KEY is unset."
            )
        return
    given = connection.headers.get(ADMIN_KEY_HEADER, "")
    if not given:
        _log_refusal(connection, 401, f"{ADMIN_KEY_HEADER} missing")
        raise NotAuthorizedException(f"A valid {ADMIN_KEY_HEADER} header is required.")
    # An address that guessed wrong too often waits before any key of its is compared, the right one too.
    limiter: RateLimiter = connection.app.state.container.rate_limiter()
    attempts = f"admin-key|{client_address(connection) or '-'}"
    limit = connection.app.state.settings.admin_key_attempts_per_minute
    now = datetime.now(UTC)
    wait = await limiter.peek(attempts, limit, now)
    # Constant-time comparison so the key cannot be guessed from response times.
    if wait is None and hmac.compare_digest(given.encode(), admin_key.get_secret_value().encode()):
        return
    if wait is None:
        wait = await limiter.hit(attempts, limit, now)
        if wait is None:
            _log_refusal(connection, 401, f"{ADMIN_KEY_HEADER} wrong")
            raise NotAuthorizedException(f"A valid {ADMIN_KEY_HEADER} header is required.")
    _log_refusal(connection, 429, "too many wrong keys from this address")
    raise RateLimited("Too many wrong admin keys from this address; wait and try again.", max(1, ceil(wait)))


def _check_browser_request(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse a foreign `Origin` (403) and, on writes, a body that is not JSON (415) — or multipart here."""
    origin = connection.headers.get("origin")
    if origin is not None and not _own_or_listed(origin, connection):
        _log_refusal(connection, 403, f"origin {origin!r} is not this site nor in CORS_ORIGINS")
        raise ForbiddenOrigin(
            f"Admin routes refuse requests from {origin!r}: not this site nor in CORS_ORIGINS."
        )
    scope = getattr(connection, "scope", {})
    if scope.get("method") not in _WRITES or not _has_body(connection):
        return
    media_type = connection.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return
    if media_type == "multipart/form-data" and handler.opt.get(ACCEPTS_MULTIPART):
        return
    _log_refusal(connection, 415, f"body of type {media_type or 'none'!r}")
    raise UnsupportedMediaType(f"The request body must be application/json, not {media_type or 'untyped'}.")


def _own_or_listed(origin: str, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    listed = {entry.rstrip("/") for entry in connection.app.state.settings.cors_origins if entry != "*"}
    if origin.rstrip("/") in listed:
        return True
    host = connection.headers.get("host")
    return origin != "null" and host is not None and urlsplit(origin).netloc.lower() == host.lower()


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    length = connection.headers.get("content-length")
    return bool(connection.headers.get("transfer-encoding")) or (length is not None and length.strip() != "0")


def _log_refusal(connection: ASGIConnection[Any, Any, Any, Any], status: int, reason: str) -> None:
    """A WARNING naming the client, the route and why — never the key that was sent (nor a part of it)."""
    scope = getattr(connection, "scope", {})
    method = scope.get("method", "WS")
    route = scope.get("path_template") or scope.get("path", "-")
    client = client_address(connection) or "-"
    audit_log.warning("admin call refused: %s %s %d from %s (%s)", method, route, status, client, reason)


def log_access_rules(settings: Any) -> None:
    """Say at startup who may reach the admin routes, so an operator never has to guess."""
    if settings.admin_api_key is None:
        log.warning(
            "ADMIN_API_KEY is unset: admin routes (agents, documents, conversations, visitors, llm) answer "
            "loopback clients only"
        )
    else:
        log.info("admin routes require the %s header", ADMIN_KEY_HEADER)
    if settings.allowed_hosts:
        log.info("serving the Host names in ALLOWED_HOSTS only: %s", ", ".join(settings.allowed_hosts))
    elif settings.admin_api_key is None:
        log.info("ALLOWED_HOSTS is unset: serving loopback Host names only (localhost, 127.0.0.1, [::1])")
    if not settings.cors_origins:
        log.info(
            "CORS_ORIGINS is unset: browsers on other sites get no CORS access; WebSockets accept any origin"
        )
