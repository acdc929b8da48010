"""Security headers added to every HTTP response (OWASP secure headers), unless the route set its own.

* everywhere: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
  and `Strict-Transport-Security` when HSTS_MAX_AGE is set (only for deployments served over HTTPS);
* the JSON API: `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` (it serves no page);
* `/widget/` pages: the policy the widget was built to run under — its own script and style, and WebSocket
  connections;
* `/widget/centralita.js`: `Cross-Origin-Resource-Policy: cross-origin`, because companies embed it on
  their own sites;
* `/docs`: only `frame-ancestors 'none'` — Litestar's Swagger UI page starts with an inline script (its
  assets are served by the app itself, under /docs/static).
"""

from __future__ import annotations

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
WIDGET_PAGE_POLICY = "default-src 'self'; connect-src 'self' ws: wss:"
DOCS_POLICY = "frame-ancestors 'none'"
WIDGET_SCRIPT = "/widget/centralita.js"


def security_headers(path: str, hsts_max_age: int) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if path == WIDGET_SCRIPT:
        headers.append((b"cross-origin-resource-policy", b"cross-origin"))
    elif path == "/widget" or path.startswith("/widget/"):
        headers.append((b"content-security-policy", WIDGET_PAGE_POLICY.encode()))
    elif path == "/docs" or path.startswith("/docs/"):
        headers.append((b"content-security-policy", DOCS_POLICY.encode()))
    else:
        headers.append((b"content-security-policy", API_POLICY.encode()))
    if hsts_max_age > 0:
        headers.append((b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode()))
    return headers
