"""Who may call the admin routes: a matching `X-API-Key`, or, with no ADMIN_API_KEY set, loopback clients only."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

ADMIN_KEY_HEADER = "X-API-Key"
log = logging.getLogger("centralita.security")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in ("localhost", "testclient"):  # Litestar's test client reports this host
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    admin_key = connection.app.state.settings.admin_api_key
    if admin_key is None:
        client = connection.client.host if connection.client else None
        if not is_loopback(client):
            raise PermissionDeniedException(
                "Admin routes answer only local clients while ADMIN_API_KEY is unset."
            )
        return
    given = connection.headers.get(ADMIN_KEY_HEADER, "")
    # Constant-time comparison so the key cannot be guessed from response times.
    if not hmac.compare_digest(given.encode(), admin_key.get_secret_value().encode()):
        raise NotAuthorizedException(f"A valid {ADMIN_KEY_HEADER} header is required.")


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
        log.info("CORS_ORIGINS is unset: browsers on other sites get no CORS access; WebSockets accept any origin")
