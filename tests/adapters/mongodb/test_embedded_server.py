"""Tests for the embedded SecantusDB server: lifecycle, persistence, failures, no orphans."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, WriteConcern

from adapters.mongodb.embedded_server import EmbeddedMongoServer, EmbeddedServerError

REPO_ROOT = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process."""
    if Path("/proc/self").exists():  # Linux: a zombie (exited, not yet reaped) counts as gone
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return "\nState:\tZ" not in text
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not _alive(pid)


def _client(uri: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)


async def test_start_ping_stop(tmp_path: Path) -> None:
    server = EmbeddedMongoServer(tmp_path)
    uri = await server.start()
    try:
        assert uri.startswith("mongodb://127.0.0.1:") and "directConnection=true" in uri
        assert server.running and server.pid is not None
        assert (tmp_path / "mongo").is_dir()
        assert server.log_path.parent == tmp_path
        client = _client(uri)
        try:
            assert (await client.admin.command("ping"))["ok"] == 1
        finally:
            await client.close()
    finally:
        await server.stop()
    assert not server.running
    with pytest.raises(EmbeddedServerError):
        _ = server.uri


async def test_stop_is_idempotent(tmp_path: Path) -> None:
    server = EmbeddedMongoServer(tmp_path)
    await server.stop()  # never started: no-op
    await server.start()
    pid = server.pid
    assert pid is not None
    await server.stop()
    await server.stop()
    assert await _wait_gone(pid, 1.0)


async def test_data_persists_across_restart(tmp_path: Path) -> None:
    async with EmbeddedMongoServer(tmp_path) as server:
        client = _client(server.uri)
        try:
            await client.centralita_test.things.insert_one({"_id": "a", "n": 42})
        finally:
            await client.close()
    async with EmbeddedMongoServer(tmp_path) as server:
        client = _client(server.uri)
        try:
            doc = await client.centralita_test.things.find_one({"_id": "a"})
        finally:
            await client.close()
    assert doc == {"_id": "a", "n": 42}


async def test_storage_path_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "mongo").write_text("not a directory")
    server = EmbeddedMongoServer(tmp_path)
    started = time.monotonic()
    with pytest.raises(EmbeddedServerError) as info:
        await server.start()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert str(tmp_path / "mongo") in message
    assert "DATA_DIR" in message and "MONGODB_URI" in message
    assert not server.running


async def test_occupied_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = EmbeddedMongoServer(tmp_path, port=port, startup_timeout_s=15)
        started = time.monotonic()
        with pytest.raises(EmbeddedServerError) as info:
            await server.start()
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert elapsed < 10
    assert f"127.0.0.1:{port}" in message and "already in use" in message
    assert "Address already in use" in message  # the log tail is included
    assert str(server.log_path) in message
    assert not server.running
    # The lock was released: the same directory is usable right away.
    async with EmbeddedMongoServer(tmp_path) as again:
        assert again.running


async def test_startup_timeout_raises_and_kills_child(tmp_path: Path) -> None:
    server = EmbeddedMongoServer(tmp_path, startup_timeout_s=0.01)
    with pytest.raises(EmbeddedServerError) as info:
        await server.start()
    assert "did not answer ping" in str(info.value)
    assert not server.running


async def test_second_server_on_same_dir_is_refused(tmp_path: Path) -> None:
    async with EmbeddedMongoServer(tmp_path):
        other = EmbeddedMongoServer(tmp_path)
        with pytest.raises(EmbeddedServerError) as info:
            await other.start()
        message = str(info.value)
        assert "already in use" in message and str(os.getpid()) in message
        assert not other.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
async def test_no_orphan_when_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from adapters.mongodb.embedded_server import EmbeddedMongoServer

        async def main():
            server = EmbeddedMongoServer(Path({str(tmp_path)!r}))
            await server.start()
            print(server.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(parent.stdout.readline(), 30)
        child_pid = int(line)
        assert _alive(child_pid)
        parent.kill()  # SIGKILL: no atexit, no finally, nothing runs on our side
        await parent.wait()
        assert await _wait_gone(child_pid, 10.0), "the SecantusDB child outlived its killed parent"
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
    # Its lock went with it: the directory can be opened again.
    async with EmbeddedMongoServer(tmp_path) as server:
        assert server.running


async def test_atexit_hook_stops_server(tmp_path: Path) -> None:
    """A crash during app startup (exception, normal interpreter exit) leaves nothing running."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from adapters.mongodb.embedded_server import EmbeddedMongoServer

        server = EmbeddedMongoServer(Path({str(tmp_path)!r}))

        async def main():
            await server.start()
            print(server.pid, flush=True)
            raise RuntimeError("app startup failed")

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    child_pid = int(out.split()[0])
    assert await _wait_gone(child_pid, 10.0)


async def _until(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


async def test_a_killed_server_is_logged_and_restarted_on_its_port_with_its_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedMongoServer(tmp_path)
    uri = await server.start()
    client = _client(uri)
    try:
        items = client.db.get_collection("items", write_concern=WriteConcern(j=True))  # as the app writes
        await items.insert_one({"_id": 1, "kept": True})
        killed = server.pid
        assert killed is not None
        os.kill(killed, 9)
        assert await _until(lambda: server.running and server.pid != killed, 15)
        died = [r for r in caplog.records if "died" in r.getMessage()]
        assert died and died[0].levelname == "ERROR" and "killed by SIGKILL" in died[0].getMessage()
        started = time.monotonic()
        assert await client.db.items.find_one({"_id": 1}) == {"_id": 1, "kept": True}  # the same client
        assert time.monotonic() - started < 5
        assert server.failure is None
    finally:
        await client.close()
        await server.stop()


async def test_repeated_deaths_give_up_and_say_why(tmp_path: Path) -> None:
    server = EmbeddedMongoServer(tmp_path)
    server.max_restarts = 1
    await server.start()
    try:
        first = server.pid
        assert first is not None
        os.kill(first, 9)
        assert await _until(lambda: server.running and server.pid != first, 15)
        assert server.pid is not None
        os.kill(server.pid, 9)
        assert await _until(lambda: server.failure is not None, 15)
        assert "died 2 times" in (server.failure or "")
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 3
    finally:
        await server.stop()
