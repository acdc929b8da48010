"""`centralita serve`: the HTTP and WebSocket server (uvicorn)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from entrypoints.cli.common import console
from entrypoints.logs import logging_config
from entrypoints.settings import Settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="uvicorn worker processes; /metrics then sums them (PROMETHEUS_MULTIPROC_DIR)."
    ),
) -> None:
    """Start the HTTP and WebSocket server."""
    import uvicorn

    settings = Settings()
    if workers > 1:
        _prepare_multiprocess_metrics()
    uvicorn.run(
        "entrypoints.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_level, settings.log_format),
        timeout_graceful_shutdown=10,
    )


def _prepare_multiprocess_metrics() -> None:
    """Workers write their metrics to files that `/metrics` sums: a fresh directory for this run."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # left by a previous run: their counts would be added again
            stale.unlink()
    else:
        directory = tempfile.mkdtemp(prefix="centralita-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # inherited by the worker processes
    console.print(f"metrics of all workers are summed through {directory}", style="dim")
