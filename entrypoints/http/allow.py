"""The `Allow` header of Litestar's automatic OPTIONS answer lists every method of the path.

Litestar 2 builds that answer for the first handler registered on a path and keeps it when more handlers join
the path, so `OPTIONS /api/v1/agents` said `OPTIONS, POST` without `GET` (litestar#4169, fixed in v3 only).
The merged route knows all its methods: the answer is corrected from it before it is sent.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


def install_allow_fix(app: Litestar) -> None:
    methods = {
        route.path_format: ", ".join(sorted(m for m in route.methods if m.isupper()))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }

    async def correct_allow(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return  # OPTIONS answers and 405s carry `Allow`; a path with a WebSocket lists it there too
        headers = MutableScopeHeaders.from_message(message)
        if "allow" not in headers:
            return
        allowed = methods.get(scope.get("path_template", ""))
        if allowed is None:  # a 405 raised while routing: only HTTP methods, not Litestar's `websocket`
            allowed = ", ".join(m.strip() for m in headers["allow"].split(",") if m.strip().isupper())
        headers["Allow"] = allowed

    app.before_send.append(correct_allow)
