"""The client's address, as rate limits and the admin loopback rule see it.

The peer address of the connection, unless the peer is a proxy listed in TRUSTED_PROXIES: then the
`X-Forwarded-For` chain is read from the right, skipping trusted proxies, and the first address not trusted
is the client. With TRUSTED_PROXIES unset the header is ignored, so a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def resolve_client(peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str | None:
    networks = _networks(tuple(trusted_proxies))
    if not peer or not networks or not _trusted(peer, networks) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # garbage in the chain: the last trusted proxy is all we know
                return peer
    return hops[0] if hops else peer


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    peer = connection.client.host if connection.client else None
    trusted = connection.app.state.settings.trusted_proxies
    return resolve_client(peer, connection.headers.get("x-forwarded-for"), trusted)
