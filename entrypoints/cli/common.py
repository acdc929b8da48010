"""What every client command shares: exit codes, the consoles, and the admin HTTP client of a running server."""

from __future__ import annotations

import os
from enum import IntEnum
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console

DEFAULT_SERVER = "http://127.0.0.1:8000"

console = Console()
err = Console(stderr=True)


class ExitCode(IntEnum):
    """The exit codes of every `centralita` command (docs/deployment.md lists them for scripts)."""

    OK = 0
    FAILED = 1  # the command ran, but something it did or checked failed (doctor: a check is broken)
    USAGE = 2  # bad arguments or options (typer's own)
    UNREACHABLE = 3  # the server (or the store) could not be reached
    DENIED = 4  # the server refused the credentials: set ADMIN_API_KEY
    NOT_FOUND = 5  # the agent (or document) does not exist
    SERVER_ERROR = 6  # the server answered with another error
    INTERRUPTED = 130  # Ctrl-C


def fail(message: str, code: ExitCode, fix: str | None = None) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    if fix:
        err.print(f"[yellow]fix:[/] {fix}")
    raise typer.Exit(int(code))


ServerOption = typer.Option(
    DEFAULT_SERVER, "--server", envvar="CENTRALITA_SERVER", help="Base URL of the running Centralita server."
)
ApiKeyOption = typer.Option(
    None,
    "--api-key",
    envvar="ADMIN_API_KEY",
    show_default=False,
    help="The server's ADMIN_API_KEY, sent as X-API-Key (default: ADMIN_API_KEY from the environment or .env).",
)


def admin_key(given: str | None) -> str | None:
    """The option or environment value, else ADMIN_API_KEY from `.env` in the working directory."""
    if given:
        return given
    try:
        from dotenv import dotenv_values

        value = dotenv_values(".env").get("ADMIN_API_KEY") if os.path.exists(".env") else None
    except Exception:
        return None
    return value or None


class ServerError(Exception):
    """A request to the server failed; `code` is the exit code it maps to, `message` a human sentence."""

    def __init__(self, message: str, code: ExitCode, status: int | None = None, error: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.error = error  # the server's machine `code`, when it gave one


class AdminClient:
    """The server's admin routes over HTTP, their failures turned into `ServerError`s."""

    def __init__(self, server: str, api_key: str | None, timeout: float = 120.0) -> None:
        self.server = server.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise ServerError(
                f"{self.server} did not answer in time ({type(error).__name__}).", ExitCode.UNREACHABLE
            ) from error
        except httpx.TransportError as error:
            raise ServerError(
                f"cannot reach the server at {self.server} ({type(error).__name__}).", ExitCode.UNREACHABLE
            ) from error
        if response.is_success:
            return response
        raise _server_error(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def paged(self, path: str, page: int = 1000) -> list[Any]:
        """Every item of a list route, `page` at a time."""
        items: list[Any] = []
        while True:
            batch = self.json("GET", path, params={"limit": page, "offset": len(items)})
            items += batch
            if len(batch) < page:
                return items


def _server_error(response: httpx.Response) -> ServerError:
    try:
        body = response.json()
        detail, code = str(body.get("detail") or ""), body.get("code")
    except Exception:
        detail, code = response.text[:200], None
    status = response.status_code
    message = f"the server answered {status}{f' {code}' if code else ''}: {detail or response.reason_phrase}"
    if status in (401, 403):
        return ServerError(message, ExitCode.DENIED, status, code)
    if status == 404:
        return ServerError(message, ExitCode.NOT_FOUND, status, code)
    return ServerError(message, ExitCode.SERVER_ERROR, status, code)


def fix_for(error: ServerError) -> str | None:
    if error.code is ExitCode.UNREACHABLE:
        return "start it with `centralita serve`, or point --server (CENTRALITA_SERVER) at it."
    if error.status == 401:
        return "set ADMIN_API_KEY (or --api-key) to the server's ADMIN_API_KEY."
    if error.status == 403:
        return "run the command on the server's machine, or set ADMIN_API_KEY on the server and here."
    return None


def fail_on(error: ServerError) -> NoReturn:
    fail(error.message, error.code, fix_for(error))
