"""The `centralita` command line."""

from __future__ import annotations

import typer

from entrypoints.logs import logging_config
from entrypoints.settings import Settings

app = typer.Typer(help="Centralita: AI agents for a call center.", no_args_is_help=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
) -> None:
    """Start the HTTP and WebSocket server."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "entrypoints.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_level, settings.log_format),
        timeout_graceful_shutdown=10,
    )


@app.callback()
def _main() -> None:
    """Centralita: AI agents for a call center."""


def main() -> None:
    app()
