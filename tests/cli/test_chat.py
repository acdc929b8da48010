"""`centralita chat`: a streamed turn in the terminal, its sources, and the same session on the next run."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.cli.conftest import Run


def test_one_turn_from_piped_stdin_then_the_same_session_next_time(
    server: str, run: Run, tmp_path: Path
) -> None:
    httpx.post(
        f"{server}/api/v1/agents/1/documents",
        json={"title": "Horario", "text": "Abrimos de lunes a viernes de 9 a 18 horas."},
        timeout=30,
    ).raise_for_status()

    first = run("chat", "--agent", "1", "--server", server, stdin="¿A qué hora abren?\n/quit\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "agent› Echo: ¿A qué hora abren?" in first.stdout
    assert "[1] Horario" in first.stdout  # the sources, after the answer

    sessions = json.loads((tmp_path / "config" / "centralita" / "chat-sessions.json").read_text())
    [session] = sessions.values()
    second = run("chat", "--agent", "1", "--server", server, stdin="¿y los sábados?\n")
    assert second.returncode == 0
    assert (
        f"session {session}" in second.stdout and "continuing a conversation of 2 messages" in second.stdout
    )
    history = httpx.get(f"{server}/api/v1/chat/history/{session}/1", timeout=10).json()
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]


def test_one_shot_message_and_polite_errors(server: str, run: Run) -> None:
    answer = run("chat", "-a", "1", "--server", server, "--session", "cli-one-shot", "-m", "hola")
    assert answer.returncode == 0 and "Echo: hola" in answer.stdout

    unknown = run("chat", "-a", "777", "--server", server, "-m", "hola")
    assert unknown.returncode == 5 and "777" in unknown.stderr and "agents list" in unknown.stderr
    down = run("chat", "-a", "1", "--server", "http://127.0.0.1:9", "-m", "hola")
    assert down.returncode == 3 and "centralita serve" in down.stderr
