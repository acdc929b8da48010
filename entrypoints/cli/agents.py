"""`centralita agents list | show ID | create`: the agents of a running server, as tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

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

app = typer.Typer(help="List, show and create agents on a running server.", no_args_is_help=True)

JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


@app.command("list")
def list_agents(
    server: str = ServerOption, api_key: str | None = ApiKeyOption, as_json: bool = JsonOption
) -> None:
    """Every agent: id, name, language, model, knowledge chunks per question."""
    try:
        with AdminClient(server, admin_key(api_key)) as client:
            agents = client.paged("/api/v1/agents")
    except ServerError as error:
        fail_on(error)
    if as_json:
        _print_json(agents)
        return
    table = Table(title=f"Agents at {server}", title_justify="left")
    for column in ("id", "name", "language", "model", "k", "updated"):
        table.add_column(column, justify="right" if column in ("id", "k") else "left")
    for agent in agents:
        table.add_row(
            str(agent["id"]),
            agent["name"],
            agent["language"],
            agent.get("model") or "[dim](default)[/]",
            str(agent["k_documents"]),
            str(agent["updated_at"])[:19].replace("T", " "),
        )
    console.print(table)


@app.command("show")
def show_agent(
    agent_id: int = typer.Argument(..., help="The agent's id."),
    server: str = ServerOption,
    api_key: str | None = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """One agent: its settings, system prompt and knowledge documents."""
    try:
        with AdminClient(server, admin_key(api_key)) as client:
            agent = client.json("GET", f"/api/v1/agents/{agent_id}")
            documents = client.paged(f"/api/v1/agents/{agent_id}/documents")
    except ServerError as error:
        fail_on(error)
    if as_json:
        _print_json({**agent, "documents": documents})
        return
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    for name in (
        "id",
        "name",
        "language",
        "model",
        "temperature",
        "max_tokens",
        "k_documents",
        "min_score",
        "greeting",
        "created_at",
        "updated_at",
    ):
        value = agent.get(name)
        fields.add_row(name, "[dim](default)[/]" if value is None else str(value))
    console.print(fields)
    console.print(Panel(agent["system_prompt"], title="system prompt", title_align="left"))
    table = Table(title=f"{len(documents)} documents", title_justify="left")
    for column in ("document_id", "title", "source", "chunks", "created_at"):
        table.add_column(column, justify="right" if column == "chunks" else "left")
    for document in documents:
        table.add_row(
            document["document_id"],
            document["title"],
            document.get("source") or "",
            str(document["chunks"]),
            str(document["created_at"])[:19].replace("T", " "),
        )
    console.print(table)


@app.command("create")
def create_agent(
    name: Annotated[str, typer.Option("--name", help="The agent's name.")],
    prompt_file: Annotated[
        Path,
        typer.Option(
            "--prompt-file",
            allow_dash=True,
            help="A file holding the system prompt (- reads standard input).",
        ),
    ],
    language: str = typer.Option("es", help="The language the agent answers in."),
    model: str | None = typer.Option(None, help="`provider:model` (default: the server's LLM_MODEL)."),
    temperature: float | None = typer.Option(None, help="Sampling temperature (default: LLM_TEMPERATURE)."),
    max_tokens: int | None = typer.Option(None, help="Longest answer in tokens (default: LLM_MAX_TOKENS)."),
    k_documents: int = typer.Option(4, help="Knowledge chunks retrieved per question."),
    min_score: float | None = typer.Option(None, help="Drop chunks scoring below this cosine."),
    greeting: str | None = typer.Option(None, help="The first words the widget shows."),
    server: str = ServerOption,
    api_key: str | None = ApiKeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Create an agent; prints its new id (the whole agent with --json)."""
    try:
        prompt = sys.stdin.read() if str(prompt_file) == "-" else prompt_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read the prompt file {prompt_file}: {error}", ExitCode.USAGE)
    body: dict[str, Any] = {
        "name": name,
        "system_prompt": prompt.strip(),
        "language": language,
        "k_documents": k_documents,
    }
    optional = {
        "model": model,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "min_score": min_score,
        "greeting": greeting,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    try:
        with AdminClient(server, admin_key(api_key)) as client:
            agent = client.json("POST", "/api/v1/agents", json=body)
    except ServerError as error:
        fail_on(error)
    if as_json:
        _print_json(agent)
        return
    console.print(f"[green]✔[/] agent [bold]{agent['id']}[/] created: {agent['name']}")
    console.print(f"  load its knowledge: centralita ingest ./docs --agent {agent['id']}")
    console.print(f"  talk to it:         centralita chat --agent {agent['id']}")
