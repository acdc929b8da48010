"""`centralita ingest PATH… --agent ID`: load files and folders into an agent's knowledge on a running server.

Each file is uploaded to `POST /api/v1/agents/{id}/documents`. A small state file remembers, per server, agent
and file, the SHA-256 of what was uploaded and its document id: an unchanged file is skipped, a changed one
is uploaded again and its previous document deleted (after the new one is in, so the agent never lacks it).
A document deleted on the server since is uploaded again.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from entrypoints.cli.common import (
    AdminClient,
    ApiKeyOption,
    ExitCode,
    ServerError,
    ServerOption,
    admin_key,
    console,
    fail,
    fail_on,
)

SUFFIXES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".pdf": "application/pdf",
}


def default_state_file() -> Path:
    """The ingest state lives in the user's config directory, beside the chat sessions: never in the folder
    being ingested nor wherever the command happened to run."""
    return Path(typer.get_app_dir("centralita")) / "ingest-state.json"


@dataclass
class Outcome:
    path: Path
    result: str  # added, replaced, unchanged, failed
    chunks: int | None = None
    document_id: str | None = None
    detail: str = ""


def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, help="Files and folders (recursive): .txt, .md, .pdf."),
    ],
    agent: int = typer.Option(
        ..., "--agent", "-a", metavar="ID", help="The agent whose knowledge receives the documents."
    ),
    server: str = ServerOption,
    api_key: str | None = ApiKeyOption,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state-file",
            "--state",
            metavar="FILE",
            show_default=False,
            help="Where to remember what was uploaded (content hashes and document ids); default: "
            "ingest-state.json in the user's config directory (~/.config/centralita on Linux).",
        ),
    ] = None,
    force: bool = typer.Option(False, "--force", help="Upload every file again, even unchanged ones."),
) -> None:
    """Upload documents to an agent's knowledge; unchanged files are skipped, changed ones replaced.

    Exit code 0 when every file is in, 1 when some failed (listed at the end), 3 when the server cannot be
    reached, 4 when it refuses the key, 5 when the agent does not exist.
    """
    files, ignored = collect(paths)
    if not files:
        fail(f"no .txt, .md or .pdf file in {', '.join(map(str, paths))}.", ExitCode.FAILED)
    memory = IngestState(state or default_state_file())
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with AdminClient(server, admin_key(api_key)) as client:
        try:
            client.json("GET", f"/api/v1/agents/{agent}")
            on_server = {d["document_id"] for d in client.paged(f"/api/v1/agents/{agent}/documents")}
        except ServerError as error:
            fail_on(error)
        with _progress() as progress:
            task = progress.add_task("ingesting", total=len(files), added=0, skipped=0, failed=0)
            for path in files:
                progress.update(task, description=_short(path))
                key = memory.key(client.server, agent, path)
                outcome = _ingest_one(client, agent, path, memory, key, on_server, force)
                outcomes.append(outcome)
                counts = _counts(outcomes)
                progress.update(
                    task,
                    advance=1,
                    added=counts["added"] + counts["replaced"],
                    skipped=counts["unchanged"],
                    failed=counts["failed"],
                )
            progress.update(task, description="done")
    _summary(outcomes, ignored, time.monotonic() - started)
    if any(o.result == "failed" for o in outcomes):
        raise typer.Exit(int(ExitCode.FAILED))


def collect(paths: list[Path]) -> tuple[list[Path], int]:
    """The supported files under `paths` (hidden files and folders left out), sorted; and how many were not."""
    found: list[Path] = []
    ignored = 0
    for root in paths:
        if root.is_file():
            found.append(root)  # named explicitly: tried, and reported if unsupported
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                path = Path(folder) / name
                if name.startswith("."):
                    continue
                if path.suffix.lower() in SUFFIXES:
                    found.append(path)
                else:
                    ignored += 1
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, ignored


class IngestState:
    """`{server|agent|path: {sha256, document_id, chunks, uploaded_at}}` in a JSON file, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.entries: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError):
            self.entries = {}  # unreadable: start over (files are compared by content on the server's side)

    @staticmethod
    def key(server: str, agent: int, path: Path) -> str:
        return f"{server}|{agent}|{path.resolve()}"

    def save(self, key: str, entry: dict[str, Any]) -> None:
        self.entries[key] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        temporary.replace(self.path)


def _ingest_one(
    client: AdminClient,
    agent: int,
    path: Path,
    memory: IngestState,
    key: str,
    on_server: set[str],
    force: bool,
) -> Outcome:
    media_type = SUFFIXES.get(path.suffix.lower())
    if media_type is None:
        return Outcome(
            path, "failed", detail=f"unsupported type {path.suffix or '(none)'}: use .txt, .md or .pdf"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        return Outcome(path, "failed", detail=f"cannot read: {error.strerror or error}")
    digest = hashlib.sha256(data).hexdigest()
    previous = memory.entries.get(key)
    previous_id = previous.get("document_id") if previous else None
    if previous and previous_id in on_server and previous.get("sha256") == digest and not force:
        return Outcome(path, "unchanged", previous.get("chunks"), previous_id)
    try:
        added = client.json(
            "POST",
            f"/api/v1/agents/{agent}/documents",
            files={"file": (path.name, data, media_type or mimetypes.guess_type(path.name)[0])},
            data={"source": str(_relative(path))[-500:]},
        )
    except ServerError as error:
        return Outcome(path, "failed", detail=error.message)
    result = "added"
    if previous_id and previous_id in on_server:
        result = "replaced"
        try:
            client.request("DELETE", f"/api/v1/agents/{agent}/documents/{previous_id}")
        except ServerError as error:
            if error.status != 404:
                detail = f"new version in, but the old document {previous_id} stayed: {error.message}"
                memory.save(key, _entry(digest, added))
                return Outcome(path, "failed", added["chunks"], added["document_id"], detail)
    memory.save(key, _entry(digest, added))
    on_server.add(added["document_id"])
    return Outcome(path, result, added["chunks"], added["document_id"])


def _entry(digest: str, added: dict[str, Any]) -> dict[str, Any]:
    return {
        "sha256": digest,
        "document_id": added["document_id"],
        "chunks": added["chunks"],
        "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18.18}"),
        BarColumn(bar_width=12),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[added]} in[/] {task.fields[skipped]} same [red]{task.fields[failed]} failed[/]"
        ),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class RateColumn(ProgressColumn):
    """Files per second."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        speed = task.completed / elapsed if elapsed else 0.0
        return Text(f"{speed:.1f} files/s", style="cyan")


def _short(path: Path) -> str:
    name = path.name
    return name if len(name) <= 18 else "…" + name[-17:]


def _counts(outcomes: list[Outcome]) -> dict[str, int]:
    counts = dict.fromkeys(("added", "replaced", "unchanged", "failed"), 0)
    for outcome in outcomes:
        counts[outcome.result] += 1
    return counts


def _summary(outcomes: list[Outcome], ignored: int, seconds: float) -> None:
    counts = _counts(outcomes)
    table = Table(title="Ingest summary", title_justify="left")
    table.add_column("file")
    table.add_column("result")
    table.add_column("chunks", justify="right")
    table.add_column("document")
    styles = {"added": "green", "replaced": "cyan", "failed": "red"}
    for outcome in outcomes:
        if outcome.result == "unchanged":
            continue
        table.add_row(
            str(_relative(outcome.path)),
            f"[{styles[outcome.result]}]{outcome.result}[/]",
            "" if outcome.chunks is None else str(outcome.chunks),
            outcome.document_id or "",
        )
    if counts["unchanged"]:
        table.add_row(f"({counts['unchanged']} unchanged files)", "[dim]skipped[/]", "", "")
    console.print(table)
    rate = len(outcomes) / seconds if seconds > 0 else 0.0
    console.print(
        f"{len(outcomes)} files in {seconds:.1f} s ({rate:.1f} files/s): {counts['added']} added, "
        f"{counts['replaced']} replaced, {counts['unchanged']} unchanged, {counts['failed']} failed"
        + (f"; {ignored} other files ignored" if ignored else "")
        + "."
    )
    failures = [o for o in outcomes if o.result == "failed"]
    if failures:
        console.print("[bold red]Failures:[/]")
        for outcome in failures:
            console.print(f"  [red]✘[/] {_relative(outcome.path)}: {outcome.detail}")


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
