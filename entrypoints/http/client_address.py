"""The client's address, as rate limits, the audit and the admin loopback rule see it.

The peer address of the connection, unless the peer is a proxy listed in TRUSTED_PROXIES: then the
`X-Forwarded-For` chain — every line of the header, in order, as if joined with commas (a proxy may add its
own line instead of extending the client's) — is read from the right, skipping trusted proxies, and the first
address not trusted is the client. Everything to its left was written by the client and is ignored. With
TRUSTED_PROXIES unset the header is ignored, so a client cannot pick its own address.

The chain is read by uvicorn's own `ProxyHeadersMiddleware` logic (`_TrustedHosts`): kept, tested, and the
same rule the server would apply with `--forwarded-allow-ips`. It is a private class, so uvicorn is pinned in
constraints.txt and tests/api/test_client_address.py covers the behaviour relied on; should it move, the
import fails at startup rather than trusting the wrong address. The server's own proxy-header handling stays
off (entrypoints/startup.py): that middleware would rewrite the client for every route, while the app also
needs the peer itself (the loopback rule refuses forwarded requests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection
from uvicorn.middleware.proxy_headers import _TrustedHosts

FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


@lru_cache(maxsize=8)
def _trusted_hosts(entries: tuple[str, ...]) -> _TrustedHosts:
    # Settings accept `10.0.0.1/8` (host bits set); uvicorn would take it for a literal name, not a network.
    return _TrustedHosts([str(ipaddress.ip_network(entry, strict=False)) for entry in entries])


def resolve_client(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[str]
) -> str | None:
    """The client behind `peer`, given every `X-Forwarded-For` line in the order received."""
    if not peer or not trusted_proxies or not forwarded_for:
        return peer
    trusted = _trusted_hosts(tuple(trusted_proxies))
    if peer not in trusted:
        return peer
    host, _port = trusted.get_trusted_client_address(", ".join(forwarded_for))
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:  # garbage in the chain: the last trusted proxy is all we know
        return peer


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    peer = connection.client.host if connection.client else None
    trusted = connection.app.state.settings.trusted_proxies
    return resolve_client(peer, connection.headers.getall("x-forwarded-for", []), trusted)


def is_forwarded(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether a proxy relayed the request: any forwarding header line at all, even an empty one first."""
    return any(name in connection.headers for name in FORWARDING_HEADERS)
