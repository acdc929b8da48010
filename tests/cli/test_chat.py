"""`centralita chat`: a streamed turn in the terminal, its sources, and the same session on the next run."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from tests.cli.conftest import CENTRALITA, Run
from tests.fakes.fake_llm import FakeLLMServer


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


def test_a_new_conversation_opens_with_the_agents_greeting(server: str, run: Run) -> None:
    body = {"name": "Ventas", "system_prompt": "Vende.", "greeting": "¡Hola! Soy Ventas, ¿en qué te ayudo?"}
    agent = httpx.post(f"{server}/api/v1/agents", json=body, timeout=10).json()["id"]
    result = run("chat", "--agent", str(agent), "--server", server, "--new", stdin="/quit\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agent› ¡Hola! Soy Ventas, ¿en qué te ayudo?" in result.stdout


def _read_until(stream: IO[bytes], marker: str, seen: bytearray, deadline: float) -> None:
    while marker.encode() not in seen:
        assert time.monotonic() < deadline, f"{marker!r} never came: {seen.decode(errors='replace')}"
        if select.select([stream], [], [], 0.1)[0]:
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, f"the chat ended early: {seen.decode(errors='replace')}"
            seen += chunk


def test_ctrl_c_during_an_answer_returns_to_the_prompt(
    server: str, fake_groq: FakeLLMServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "LLM_", "MONGODB_", "ADMIN_"))}
    env.update({"COLUMNS": "200", "XDG_CONFIG_HOME": str(tmp_path / "config"), "NO_COLOR": "1"})
    before = {"answer_tokens": fake_groq.answer_tokens, "tokens_per_second": fake_groq.tokens_per_second}
    fake_groq.configure(answer_tokens=400, tokens_per_second=20)  # 20 s of answer: Ctrl-C lands mid-stream
    chat = subprocess.Popen(
        [CENTRALITA, "chat", "--agent", "1", "--server", server, "--new"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert chat.stdin is not None and chat.stdout is not None
    seen = bytearray()
    try:
        chat.stdin.write(b"una pregunta larga\n")
        chat.stdin.flush()
        _read_until(chat.stdout, "Echo", seen, time.monotonic() + 30)
        chat.send_signal(signal.SIGINT)
        _read_until(chat.stdout, "(answer stopped)", seen, time.monotonic() + 10)
        fake_groq.configure(**before)
        chat.stdin.write(b"otra\n/quit\n")
        chat.stdin.flush()
        _read_until(chat.stdout, "you› otra", seen, time.monotonic() + 30)
        assert chat.wait(timeout=30) == 0, seen.decode(errors="replace")
        while chunk := os.read(chat.stdout.fileno(), 4096):
            seen += chunk
        # The next turn is answered (the stopped answer goes on on the server, kept), and none of the
        # stopped answer's later pieces spill into it: one answer line, echoing the new question.
        after = seen.decode(errors="replace").split("you› otra", 1)[1]
        assert after.count("agent›") == 1 and "otra" in after.split("agent›", 1)[1], after
    finally:
        fake_groq.configure(**before)
        chat.kill()
        chat.wait()
