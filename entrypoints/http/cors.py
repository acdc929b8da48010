"""CORS for REST (CORS_ORIGINS): Litestar's middleware, with refused preflights in our JSON error shape.

Litestar answers a refused preflight with `400 text/plain` ("Disallowed CORS Origin"); here it is
`403 {"detail", "code": "forbidden_origin"}` like every other error.
"""

from __future__ import annotations

from typing import Any

from litestar.config.cors import CORSConfig
from litestar.datastructures import Headers
from litestar.middleware._internal.cors import CORSMiddleware
from litestar.response import Response
from litestar.types import ASGIApp

from entrypoints.http.errors import error_response

# The chat history's newest event_id: readable by the widget on another origin (Access-Control-Expose-Headers).
LAST_EVENT_ID_HEADER = "X-Last-Event-Id"


class JsonCORSMiddleware(CORSMiddleware):
    def _create_preflight_response(self, origin: str, request_headers: Headers) -> Response[Any]:
        response = super()._create_preflight_response(origin, request_headers)
        if (response.status_code or 0) < 400:
            return response
        return error_response(
            403, "forbidden_origin", f"{response.content}: this site may not call the API (CORS_ORIGINS)."
        )


def with_cors(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """`app` behind CORS for `origins`; unchanged when none are set (browsers then get no CORS access)."""
    if not origins:
        return app
    return JsonCORSMiddleware(app, CORSConfig(allow_origins=origins, expose_headers=[LAST_EVENT_ID_HEADER]))
