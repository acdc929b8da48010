"""`centralita serve`: the HTTP and WebSocket server (uvicorn)."""

from __future__ import annotations

import asyncio
import logging.config
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import typer

from entrypoints.cli.common import ExitCode, console, fail
from entrypoints.logs import logging_config
from entrypoints.settings import Settings
from entrypoints.startup import server_options


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="uvicorn worker processes; /metrics then sums them (PROMETHEUS_MULTIPROC_DIR)."
    ),
) -> None:
    """Start the HTTP and WebSocket server."""
    import uvicorn
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as error:  # one line per bad setting, not a traceback
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']).upper() or 'settings'}: {item['msg']}"
            for item in error.errors()
        )
        fail(problems, ExitCode.USAGE, "correct the environment or .env (docs/configuration.md)")
    log_config = logging_config(settings.log_level, settings.log_format)
    shared: SharedEmbeddedStore | None = None
    if workers > 1:
        _prepare_multiprocess_metrics()
        if settings.storage == "mongodb" and settings.mongodb_uri is None:
            logging.config.dictConfig(log_config)
            shared = SharedEmbeddedStore(settings.data_dir)
            os.environ["MONGODB_URI"] = shared.start()  # the workers connect to the one embedded server
    try:
        uvicorn.run(
            "entrypoints.http.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config,
            **server_options(
                settings
            ),  # frame size, SIGTERM grace, no proxy headers (entrypoints/startup.py)
        )
    finally:
        if shared is not None:
            shared.stop()


class SharedEmbeddedStore:
    """With several workers, the embedded MongoDB server runs once, in this parent process.

    One server may own a DATA_DIR (it holds a lock), so the workers cannot each start their own: the parent
    starts it on an event loop of its own thread and hands the workers its address as MONGODB_URI."""

    def __init__(self, data_dir: Path) -> None:
        from adapters.mongodb.embedded_server import EmbeddedMongoServer

        self._server = EmbeddedMongoServer(data_dir)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-mongodb", daemon=True)

    def start(self) -> str:
        self._thread.start()
        uri: str = self._run(self._server.start())
        return uri

    def stop(self) -> None:
        try:
            self._run(self._server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


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
