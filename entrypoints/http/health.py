"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from application.diagnostics import Diagnostics


@get(
    "/health",
    summary="The process serves (503 when a part it owns failed for good: restart the process)",
    tags=["operations"],
)
async def health(diagnostics: NamedDependency[Diagnostics]) -> Response[dict[str, str]]:
    failure = diagnostics.liveness_failure()
    if failure is not None:
        return Response({"status": "failed", "detail": failure}, status_code=503)
    return Response({"status": "ok"})


@get("/ready", summary="Every component's state (503 when one is not ready)", tags=["operations"])
async def ready(diagnostics: NamedDependency[Diagnostics]) -> Response[dict[str, object]]:
    readiness = await diagnostics.readiness()
    body: dict[str, object] = {
        "status": "ready" if readiness.ready else "not_ready",
        "components": {
            c.name: {"ok": c.ok, "kind": c.kind, **({"detail": c.detail} if c.detail else {})}
            for c in readiness.components
        },
    }
    return Response(body, status_code=200 if readiness.ready else 503)
