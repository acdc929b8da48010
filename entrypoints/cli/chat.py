"""`centralita chat --agent ID`: a terminal chat over the WebSocket stream, the answer printed as it arrives.

The session id is kept per server and agent in a small file under the user's config directory, so the next
run continues the same conversation (the server keeps its history); `--session` picks another, `--new`
starts afresh.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx
import typer
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from entrypoints.cli.common import DEFAULT_SERVER, ExitCode, console, err, fail

EXIT_WORDS = {"/quit", "/exit", "/salir"}
TURN_TIMEOUT = 300.0


def sessions_file() -> Path:
    return Path(typer.get_app_dir("centralita")) / "chat-sessions.json"


def remembered_session(server: str, agent: int, new: bool) -> str:
    """The session id used last time with this server and agent, or a new one (then remembered)."""
    path = sessions_file()
    try:
        sessions: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        sessions = {}
    key = f"{server}|{agent}"
    if new or key not in sessions:
        sessions[key] = f"cli-{secrets.token_hex(8)}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(sessions, indent=1))
        except OSError as error:
            err.print(f"[yellow]note:[/] cannot remember the session in {path} ({error.strerror}).")
    return sessions[key]


def chat(
    agent: int = typer.Option(1, "--agent", "-a", help="The agent to talk to."),
    server: str = typer.Option(
        DEFAULT_SERVER, "--server", envvar="CENTRALITA_SERVER", help="Server base URL."
    ),
    session: str | None = typer.Option(
        None, "--session", help="The visitor session id (default: the one remembered for this agent)."
    ),
    new: bool = typer.Option(False, "--new", help="Start a new conversation (a new remembered session id)."),
    message: str | None = typer.Option(
        None, "--message", "-m", help="Send this one message, print the answer and exit."
    ),
    origin: str = typer.Option("cli", help="The visitor origin recorded on first contact."),
    history: int = typer.Option(4, min=0, help="Earlier messages to show when a conversation continues."),
) -> None:
    """Chat with an agent in the terminal; the answer streams token by token, its sources shown after.

    Type /quit (or Ctrl-D) to leave. Exit code 0, 1 when a one-shot message (-m) failed, 3 when the server
    cannot be reached, 5 when the agent does not exist.
    """
    server = server.rstrip("/")
    session_id = session or remembered_session(server, agent, new)
    url = server.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    url = f"{url}/api/v1/chat/stream/{session_id}/{agent}"
    with _open(url, server) as ws:
        if message is None:
            console.print(f"[dim]agent {agent} at {server} · session {session_id} · /quit to leave[/]")
            if not _show_history(server, session_id, agent, history):
                _show_greeting(server, agent)
        if message is not None:
            try:
                ok = _turn(ws, message, origin, agent)
            except KeyboardInterrupt:
                console.print("\n[yellow](answer stopped)[/]")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            raise typer.Exit(int(ExitCode.OK if ok else ExitCode.FAILED))
        interactive = sys.stdin.isatty()
        while True:
            try:
                text = console.input("[bold green]you›[/] ") if interactive else input()
            except EOFError:
                break
            except KeyboardInterrupt:
                console.print()
                break
            if text.strip() in EXIT_WORDS:
                break
            if not text.strip():
                continue
            if not interactive:
                console.print(f"[bold green]you›[/] {text}")
            try:
                _turn(ws, text, origin, agent)
            except KeyboardInterrupt:
                # Ctrl-C during an answer stops following it and returns to the prompt. The answer goes on
                # on the server (it is kept); a new connection is free to send at once, and the next turn
                # skips that answer's later events.
                console.print("\n[yellow](answer stopped)[/]")
                ws.close()
                ws = _open(url, server)
        ws.close()  # the one opened last (closing twice is harmless)


def _open(url: str, server: str) -> ClientConnection:
    try:
        return connect(url, open_timeout=10, close_timeout=2, max_size=2**24)
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
        fail(
            f"cannot open the chat stream at {server} ({type(error).__name__}).",
            ExitCode.UNREACHABLE,
            "start the server with `centralita serve`, or point --server at it.",
        )


def _turn(ws: ClientConnection, text: str, origin: str, agent: int) -> bool:
    """One turn: send, print tokens as they come, then the sources. True when the answer ended well."""
    try:
        ws.send(json.dumps({"message": text, "origin": origin}))
        sources: list[dict[str, Any]] = []
        started = False
        asked = False  # our message came back as the conversation's `visitor_message`
        reply: str | None = None  # our answer's message_id: other answers' events are not ours to print
        while True:
            event = json.loads(ws.recv(timeout=TURN_TIMEOUT))
            kind = event.get("type")
            if kind == "visitor_message":
                asked = asked or event.get("content") == text
                continue
            if "event_id" in event:  # a conversation event (a refusal of our frame has none)
                if not asked:
                    continue  # an earlier answer (one stopped with Ctrl-C) still streaming
                if kind == "start" and reply is None:
                    reply = event.get("message_id")
                elif event.get("message_id") != reply:
                    continue
            if kind == "start":
                started = True
                console.print("[bold cyan]agent›[/] ", end="")
            elif kind == "sources":
                sources = event.get("sources") or []
            elif kind == "token":
                console.print(event.get("content", ""), end="", markup=False, highlight=False, soft_wrap=True)
                console.file.flush()
            elif kind == "end":
                console.print()
                _show_sources(sources)
                return True
            elif kind == "error":
                if started:
                    console.print()
                if event.get("code") == "agent_not_found":
                    fail(
                        str(event.get("detail")),
                        ExitCode.NOT_FOUND,
                        "list the agents: `centralita agents list`.",
                    )
                if event.get("code") == "invalid_session_id":
                    fail(
                        str(event.get("detail")),
                        ExitCode.USAGE,
                        "--session takes 1–128 of A-Z a-z 0-9 . _ : -",
                    )
                _polite_error(event)
                return False
    except TimeoutError:
        fail(f"no answer within {TURN_TIMEOUT:g} s.", ExitCode.FAILED)
    except ConnectionClosed as closed:
        reason = closed.rcvd.reason if closed.rcvd else ""
        if reason == "agent_not_found":
            fail(
                f"agent {agent} does not exist.",
                ExitCode.NOT_FOUND,
                "list the agents with `centralita agents list`.",
            )
        fail(f"the server closed the connection{f' ({reason})' if reason else ''}.", ExitCode.UNREACHABLE)


def _polite_error(event: dict[str, Any]) -> None:
    code = event.get("code", "error")
    detail = event.get("detail", "")
    if code == "rate_limited":
        wait = event.get("retry_after")
        detail = f"too many messages; try again in {wait:g} s." if isinstance(wait, int | float) else detail
    elif code == "llm_unavailable":
        detail = f"{detail} (an operator can run `centralita doctor`)"
    err.print(f"[red]✘ {code}:[/] {detail}")


def _show_sources(sources: list[dict[str, Any]]) -> None:
    for number, source in enumerate(sources, 1):
        score = source.get("score")
        score_text = f" · {score:.2f}" if isinstance(score, int | float) else ""
        console.print(f"  [dim][{number}] {source.get('title', '')}{score_text}[/]", highlight=False)


def _show_greeting(server: str, agent: int) -> None:
    """The agent's greeting opens a new conversation, as in the widget (the public agent route)."""
    try:
        response = httpx.get(f"{server}/api/v1/chat/agents/{agent}", timeout=10)
        greeting = response.json().get("greeting") if response.is_success else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return
    if isinstance(greeting, str) and greeting.strip():
        console.print("[bold cyan]agent›[/] ", end="")
        console.print(greeting, highlight=False, markup=False)


def _show_history(server: str, session_id: str, agent: int, count: int) -> bool:
    """The end of the conversation so far (the public history route the widget uses too); False when the
    conversation is new."""
    try:
        response = httpx.get(
            f"{server}/api/v1/chat/history/{session_id}/{agent}", params={"limit": 1000}, timeout=10
        )
        messages = response.json() if response.is_success else []
    except (httpx.HTTPError, ValueError):
        return False
    if not messages:
        return False
    if count == 0:
        return True
    console.print(f"[dim]… continuing a conversation of {len(messages)} messages[/]")
    for earlier in messages[-count:]:
        who = "you›" if earlier.get("role") == "user" else "agent›"
        console.print(f"[dim]{who} {earlier.get('content', '')}[/]", highlight=False)
    return True
