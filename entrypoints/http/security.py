"""Who may call the admin routes: a matching `X-API-Key`, or, with no ADMIN_API_KEY set, loopback clients only."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from entrypoints.http.client_address import client_address, is_forwarded

ADMIN_KEY_HEADER = "X-API-Key"
log = logging.getLogger("centralita.security")
audit_log = logging.getLogger("centralita.audit")  # refused admin calls, next to the recorded changes


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in ("localhost", "testclient"):  # Litestar's test client reports this host
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
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
    # Constant-time comparison so the key cannot be guessed from response times.
    expected = admin_key.get_secret_value().encode()
    if not given or not expected or not hmac.compare_digest(given.encode(), expected):
        _log_refusal(connection, 401, f"{ADMIN_KEY_HEADER} wrong" if given else f"{ADMIN_KEY_HEADER} missing")
        raise NotAuthorizedException(f"A valid {ADMIN_KEY_HEADER} header is required.")


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
    if not settings.cors_origins:
        log.info(
            "CORS_ORIGINS is unset: browsers on other sites get no CORS access; WebSockets accept any origin"
        )
