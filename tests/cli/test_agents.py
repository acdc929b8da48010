"""`centralita agents list | show | create`: tables for people, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run


def test_create_list_and_show_with_json(server: str, run: Run, tmp_path: Path) -> None:
    (tmp_path / "prompt.txt").write_text("Eres el asistente de ventas de Acme.\n", encoding="utf-8")
    created = run(
        "agents",
        "create",
        "--name",
        "Ventas",
        "--prompt-file",
        "prompt.txt",
        "--k-documents",
        "2",
        "--json",
        "--server",
        server,
    )
    assert created.returncode == 0, created.stderr
    agent = json.loads(created.stdout)
    assert (agent["name"], agent["system_prompt"], agent["k_documents"]) == (
        "Ventas",
        "Eres el asistente de ventas de Acme.",
        2,
    )

    listed = json.loads(run("agents", "list", "--json", "--server", server).stdout)
    assert {1, agent["id"]} <= {a["id"] for a in listed}
    shown = json.loads(run("agents", "show", str(agent["id"]), "--json", "--server", server).stdout)
    assert shown["id"] == agent["id"] and shown["documents"] == []

    table = run("agents", "list", "--server", server)
    assert table.returncode == 0 and "Ventas" in table.stdout and "Asistente general" in table.stdout
    people = run("agents", "show", str(agent["id"]), "--server", server)
    assert "system prompt" in people.stdout and "0 documents" in people.stdout


def test_create_reads_the_prompt_from_stdin_and_errors_exit_with_their_code(server: str, run: Run) -> None:
    created = run(
        "agents", "create", "--name", "Stdin", "--prompt-file", "-", "--server", server, stdin="Hola."
    )
    assert created.returncode == 0 and "created: Stdin" in created.stdout
    assert run("agents", "show", "99999", "--server", server).returncode == 5
    assert run("agents", "list", "--server", "http://127.0.0.1:9").returncode == 3
    assert run("agents", "create", "--name", "X", "--prompt-file", "missing.txt").returncode == 2
