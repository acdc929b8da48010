"""The embedded MongoDB-compatible server (SecantusDB) that the app starts itself.

When ``STORAGE=mongodb`` and no ``MONGODB_URI`` is set, Centralita runs SecantusDB — a MongoDB
wire-protocol server on WiredTiger — as a child process with its data under ``DATA_DIR/mongo``
and talks to it with the ordinary pymongo driver, exactly as it would talk to a real MongoDB.

SecantusDB is GPL-2.0. It is therefore only ever *run* as a separate program
(``python -m secantus``); this module never imports it, and neither may any other application
module.

Files under ``data_dir``:

* ``mongo/``            — the WiredTiger home (the data);
* ``secantusdb.log``    — the server's stdout/stderr (rotated once to ``.log.1`` past 10 MB);
* ``secantusdb.lock``   — an exclusive ``flock`` held while a server runs on ``mongo/``,
  holding the owning pid, so two app processes never open the same storage;
* ``secantusd.toml``    — SecantusDB's own settings (created empty, with comments, if missing;
  tune e.g. ``[storage] cache_size`` there). Host, port and storage path are always set by us.

Orphan prevention (why it is done this way)
-------------------------------------------
The child must die with us even if we are SIGKILLed. On Linux the kernel can do that:
``prctl(PR_SET_PDEATHSIG, SIGTERM)``. Setting it in a ``preexec_fn`` is unsafe here — the app has
threads (driver monitors, executors), and running Python code between ``fork`` and ``exec`` in a
threaded process can deadlock on locks held by other threads at fork time. Instead the child is
started as a tiny *bootstrap* (``python -c _LINUX_BOOTSTRAP``) which, already in its own clean
process, calls ``prctl`` through ctypes, checks that its parent is still us (closing the race
where we die before ``prctl`` ran), and then ``execv``s ``python -m secantus``. The death signal
survives ``execve``, so the final process is plain SecantusDB, with the same pid, and no
lingering watchdog. Caveat: the death signal fires when the *thread* that spawned the child
exits; spawn from the event-loop thread that lives as long as the server (the normal case).

Elsewhere (macOS, …) the bootstrap stays alive as a watchdog: it runs SecantusDB as its own child,
forwards SIGTERM, and stops it when its parent pid changes.

The child gets ``start_new_session=True`` (setsid, done in C, no Python in the forked child): a
Ctrl-C in the terminal then reaches only the app, which shuts the server down cleanly through
:meth:`EmbeddedMongoServer.stop` after it has finished its own writes, instead of the server dying
under it. The session also gives us a process group to SIGKILL as the last resort.

Finally an ``atexit`` hook stops any server still running when the interpreter exits (for example
after an exception during app startup), and :meth:`EmbeddedMongoServer.start` kills the child if
it fails half-way.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

try:  # POSIX only; without it we rely on WiredTiger's own lock file.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("centralita.mongodb.embedded")

LOG_FILE_NAME = "secantusdb.log"
LOCK_FILE_NAME = "secantusdb.lock"
CONFIG_FILE_NAME = "secantusd.toml"
STORAGE_DIR_NAME = "mongo"

_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_LOG_TAIL_LINES = 15
_PING_TIMEOUT_MS = 500
_POLL_INTERVAL_S = 0.1
_PORT_ATTEMPTS = 3

# Runs as ``python -c _LINUX_BOOTSTRAP <our pid> <secantus args...>`` in the child (see module doc).
_LINUX_BOOTSTRAP = """\
import ctypes, os, signal, sys
parent = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
    sys.exit("centralita bootstrap: prctl(PR_SET_PDEATHSIG) failed, errno %d" % ctypes.get_errno())
if os.getppid() != parent:
    sys.exit("centralita bootstrap: parent process already gone; not starting SecantusDB")
os.execv(sys.executable, [sys.executable, "-m", "secantus", *sys.argv[2:]])
"""

# Non-Linux fallback: stay alive as a watchdog around the server.
_WATCHDOG_BOOTSTRAP = """\
import os, signal, subprocess, sys, time
parent = int(sys.argv[1])
child = subprocess.Popen([sys.executable, "-m", "secantus", *sys.argv[2:]])
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
signal.signal(signal.SIGINT, signal.SIG_IGN)
while child.poll() is None:
    if os.getppid() != parent:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
        break
    time.sleep(0.5)
sys.exit(child.wait())
"""

_CONFIG_TEMPLATE = """\
# Settings for the embedded SecantusDB that Centralita starts when MONGODB_URI is unset.
# Centralita always passes host, port and storage path itself; other keys may be set here,
# e.g. (see `python -m secantus --help`):
#
# [storage]
# cache_size = "256M"
"""


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started (or was found unusable)."""


class EmbeddedMongoServer:
    """Runs SecantusDB as a child process and hands out a ``mongodb://`` URI for it.

    Usage::

        async with EmbeddedMongoServer(Path("data")) as server:
            client = AsyncMongoClient(server.uri)

    or ``uri = await server.start()`` … ``await server.stop()``.
    """

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 20.0,
        stop_timeout_s: float = 10.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """Describe the server; nothing happens until :meth:`start`.

        ``port=None`` picks a free port. ``extra_args`` are appended to the SecantusDB command
        line (e.g. ``("--cache-size", "256M")``).
        """
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.extra_args = extra_args
        self._process: asyncio.subprocess.Process | None = None
        self._lock_file: IO[str] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0
        self._uri: str | None = None
        self._bound_port: int | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.max_restarts = _MAX_RESTARTS
        self.restart_window_s = _RESTART_WINDOW_S
        self.failure: str | None = None  # set when the server died and could not be brought back

    # -- public API -------------------------------------------------------------------------

    @property
    def storage_path(self) -> Path:
        """The WiredTiger home: ``data_dir/mongo``."""
        return self.data_dir / STORAGE_DIR_NAME

    @property
    def log_path(self) -> Path:
        """Where the server's stdout/stderr go."""
        return self.data_dir / LOG_FILE_NAME

    @property
    def lock_path(self) -> Path:
        """The lock file guarding :attr:`storage_path` against a second server."""
        return self.data_dir / LOCK_FILE_NAME

    @property
    def pid(self) -> int | None:
        """Pid of the child (on Linux: the SecantusDB process itself), or None when not running."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.returncode is None

    @property
    def uri(self) -> str:
        """The connection string; only valid after :meth:`start` returned."""
        if self._uri is None or not self.running:
            raise EmbeddedServerError("the embedded MongoDB server is not running; call start() first")
        return self._uri

    async def start(self) -> str:
        """Start the server and return its URI once it answers ``ping``.

        Raises :class:`EmbeddedServerError` (and leaves nothing running) when it exits early,
        does not answer within ``startup_timeout_s``, or its storage is in use by another process.
        """
        if self.running:
            return self.uri
        self._prepare_dirs()
        await self._acquire_lock()
        try:
            attempts = _PORT_ATTEMPTS if self.port is None else 1
            for attempt in range(1, attempts + 1):
                port = self.port if self.port is not None else _free_port(self.host)
                try:
                    uri = await self._start_once(port)
                    self._stopping, self.failure = False, None
                    self._supervisor = asyncio.create_task(self._supervise(), name="secantusdb-supervisor")
                    return uri
                except _PortInUseError as exc:
                    if attempt == attempts:
                        raise EmbeddedServerError(str(exc)) from None
                    logger.info("port %d was taken before SecantusDB could bind it; retrying", port)
            raise AssertionError("unreachable")  # pragma: no cover
        except BaseException:
            await self._kill_and_cleanup()
            raise

    async def stop(self) -> None:
        """Stop the server: SIGTERM, wait up to ``stop_timeout_s``, then SIGKILL. Idempotent."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        proc = self._process
        if proc is not None and proc.returncode is None:
            logger.info("stopping embedded SecantusDB (pid %d)", proc.pid)
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout_s)
            except TimeoutError:
                logger.warning(
                    "embedded SecantusDB (pid %d) did not stop within %.0f s; killing it",
                    proc.pid,
                    self.stop_timeout_s,
                )
                _signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5.0)
            else:
                logger.info("embedded SecantusDB stopped (exit code %s)", proc.returncode)
        self._release()

    async def __aenter__(self) -> EmbeddedMongoServer:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # -- internals -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Restart the server when it dies (same port: the driver reconnects), with backoff; give up after
        `max_restarts` deaths within `restart_window_s`, leaving `failure` set for liveness to report."""
        deaths: list[float] = []
        while True:
            proc = self._process
            assert proc is not None and self._bound_port is not None
            code = await proc.wait()
            if self._stopping:
                return
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < self.restart_window_s] + [now]
            logger.error(
                "embedded SecantusDB (pid %d) died: %s; storage %s, log %s",
                proc.pid,
                _exit_status(code),
                self.storage_path,
                self.log_path,
            )
            while True:
                if len(deaths) > self.max_restarts:
                    self.failure = (
                        f"the embedded MongoDB server died {len(deaths)} times within "
                        f"{self.restart_window_s:g} s (last: {_exit_status(code)}); see {self.log_path}"
                    )
                    logger.error("giving up restarting embedded SecantusDB: %s", self.failure)
                    return
                await asyncio.sleep(min(_RESTART_BACKOFF_S * 2 ** (len(deaths) - 1), 10.0))
                try:
                    await self._start_once(self._bound_port)
                    logger.warning("embedded SecantusDB restarted (pid %s)", self.pid)
                    break
                except EmbeddedServerError as error:
                    logger.error("embedded SecantusDB could not restart: %s", str(error).splitlines()[0])
                    deaths.append(time.monotonic())
                    if self.running:  # it did not answer in time: kill it, keep the lock
                        assert self._process is not None
                        _signal_group(self._process.pid, signal.SIGKILL)
                        await self._process.wait()

    def _prepare_dirs(self) -> None:
        try:
            self.storage_path.mkdir(parents=True, exist_ok=True)
            config = self.data_dir / CONFIG_FILE_NAME
            if not config.exists():
                config.write_text(_CONFIG_TEMPLATE, encoding="utf-8")
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot create the embedded MongoDB storage directory {self.storage_path}: {exc}. "
                "Check that DATA_DIR points at a writable directory (permissions, free space, "
                "not a file), or set MONGODB_URI to use an external MongoDB."
            ) from exc

    async def _acquire_lock(self) -> None:
        try:
            lock_file = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115, ASYNC230 - held open; startup only
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot open lock file {self.lock_path}: {exc}. Check DATA_DIR permissions."
            ) from exc
        if fcntl is not None and not await _flock_soon(lock_file, _LOCK_RELEASE_GRACE_S):
            lock_file.seek(0)
            owner = lock_file.read().strip() or "unknown"
            lock_file.close()
            raise EmbeddedServerError(
                f"the embedded MongoDB storage {self.storage_path} is already in use by another "
                f"process (pid {owner}, per {self.lock_path}). Two servers cannot share one "
                "DATA_DIR: stop the other Centralita process, give this one a different DATA_DIR, "
                "or point both at one MongoDB with MONGODB_URI."
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def _open_log(self) -> IO[bytes]:
        path = self.log_path
        with contextlib.suppress(OSError):
            if path.stat().st_size > _LOG_ROTATE_BYTES:
                path.replace(path.with_name(path.name + ".1"))
        log_file = open(path, "ab")  # noqa: SIM115 - handed to the child, closed in _release
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log_file.write(f"---- {stamp} centralita starting SecantusDB (parent pid {os.getpid()})\n".encode())
        log_file.flush()
        self._log_offset = log_file.tell()
        return log_file

    def _command(self, port: int) -> list[str]:
        server_args = [
            "--host",
            self.host,
            "--port",
            str(port),
            "--storage-path",
            str(self.storage_path.resolve()),
            "--config",
            str((self.data_dir / CONFIG_FILE_NAME).resolve()),
            *self.extra_args,
        ]
        bootstrap = _LINUX_BOOTSTRAP if sys.platform.startswith("linux") else _WATCHDOG_BOOTSTRAP
        return [sys.executable, "-c", bootstrap, str(os.getpid()), *server_args]

    async def _start_once(self, port: int) -> str:
        if self._log_file is None:
            self._log_file = self._open_log()
        self._log_offset = os.fstat(self._log_file.fileno()).st_size
        logger.info(
            "starting embedded SecantusDB on %s:%d, storage %s, log %s",
            self.host,
            port,
            self.storage_path,
            self.log_path,
        )
        started = time.monotonic()
        fds: tuple[int, ...] = (self._lock_file.fileno(),) if self._lock_file is not None else ()
        try:
            # The lock fd is inherited so the lock outlives us while the child still runs.
            self._process = await asyncio.create_subprocess_exec(
                *self._command(port),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=asyncio.subprocess.STDOUT,
                cwd=str(self.data_dir),
                start_new_session=True,
                pass_fds=fds,
            )
        except OSError as exc:
            raise EmbeddedServerError(
                f"cannot launch the embedded MongoDB server ({sys.executable} -m secantus): {exc}. "
                "Is the secantusdb package installed? Or set MONGODB_URI."
            ) from exc
        _register(self)
        self._bound_port = port
        uri = _uri(self.host, port)
        await self._wait_ready(uri, port)
        self._uri = uri
        logger.info(
            "embedded SecantusDB ready at %s:%d (pid %d, storage %s) after %.2f s",
            self.host,
            port,
            self._process.pid,
            self.storage_path,
            time.monotonic() - started,
        )
        return uri

    async def _wait_ready(self, uri: str, port: int) -> None:
        proc = self._process
        assert proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=_PING_TIMEOUT_MS,
            connectTimeoutMS=_PING_TIMEOUT_MS,
            socketTimeoutMS=2_000,
            appname="centralita-embedded-probe",
        )
        try:
            while True:
                if proc.returncode is not None:
                    self._fail_exited(proc.returncode, port)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EmbeddedServerError(
                        f"the embedded MongoDB server (SecantusDB, pid {proc.pid}) did not answer ping "
                        f"on {self.host}:{port} within {self.startup_timeout_s:g} s, so it was stopped. "
                        "If the machine is just slow, raise the startup timeout; otherwise check its log "
                        f"and DATA_DIR ({self.data_dir}), or set MONGODB_URI to use an external MongoDB."
                        f"{self._log_excerpt()}"
                    )
                try:
                    await asyncio.wait_for(client.admin.command("ping"), max(remaining, 0.05))
                    return
                except (PyMongoError, TimeoutError, OSError):
                    # Not listening yet: give it a moment unless it has already exited.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(proc.wait(), _POLL_INTERVAL_S)
        finally:
            await client.close()

    def _fail_exited(self, code: int, port: int) -> None:
        tail = self._log_tail()
        text = "\n".join(tail)
        if "Address already in use" in text:
            message = (
                f"the embedded MongoDB server could not listen on {self.host}:{port}: the port is "
                "already in use. Choose another port (or leave it unset to pick a free one), "
                "or set MONGODB_URI."
            )
            if self.port is None:
                raise _PortInUseError(message)
        elif "Device or resource busy" in text or "WiredTiger.lock" in text:
            message = (
                f"the embedded MongoDB storage {self.storage_path} is locked by another process "
                "(WiredTiger's lock file). Stop the other process using this DATA_DIR, or use "
                "another DATA_DIR, or set MONGODB_URI."
            )
        elif CONFIG_FILE_NAME in text and "secantusdb:" in text:
            message = (
                f"the embedded MongoDB server rejected its settings file {self.data_dir / CONFIG_FILE_NAME}. "
                "Fix or delete that file (it is recreated with defaults), or set MONGODB_URI."
            )
        elif "Permission denied" in text:
            message = (
                f"the embedded MongoDB server was denied access to {self.storage_path}. "
                "Check DATA_DIR ownership and permissions, or set MONGODB_URI."
            )
        else:
            message = (
                f"the embedded MongoDB server (SecantusDB) exited with code {code} during startup. "
                f"Check DATA_DIR ({self.data_dir}) and the port, or set MONGODB_URI."
            )
        raise EmbeddedServerError(f"{message}{self._log_excerpt(tail)}")

    def _log_tail(self) -> list[str]:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.flush()
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                data = f.read()
        except OSError:
            return []
        lines = data.decode("utf-8", "replace").splitlines()
        return [line for line in lines if line.strip()][-_LOG_TAIL_LINES:]

    def _log_excerpt(self, tail: list[str] | None = None) -> str:
        lines = self._log_tail() if tail is None else tail
        body = "\n".join(f"    {line}" for line in lines) if lines else "    (nothing logged)"
        return f"\nLast lines of its log ({self.log_path}):\n{body}"

    async def _kill_and_cleanup(self) -> None:
        proc = self._process
        if proc is not None and proc.returncode is None:
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5.0)
        self._release()

    def _release(self) -> None:
        _unregister(self)
        self._uri = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.seek(0)
                self._lock_file.truncate()
            self._lock_file.close()  # closing drops our flock (the child's copy died with it)
            self._lock_file = None

    def _stop_sync(self) -> None:
        """Best-effort synchronous stop, for the interpreter-exit hook (no event loop needed)."""
        proc = self._process
        if proc is None or proc.returncode is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        while time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (by asyncio's child watcher)
                return
            if pid != 0:
                return
            time.sleep(0.05)
        _signal_group(proc.pid, signal.SIGKILL)


_MAX_RESTARTS = 3
_RESTART_WINDOW_S = 60.0
_RESTART_BACKOFF_S = 0.5


def _exit_status(code: int) -> str:
    """`exit code 1`, or `killed by SIGKILL` for a negative return code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


# A server killed a moment ago (a crash, a restart) may still be exiting and holding the lock.
_LOCK_RELEASE_GRACE_S = 5.0


async def _flock_soon(lock_file: IO[str], grace_s: float) -> bool:
    """Take the exclusive lock, waiting up to `grace_s` while a previous holder finishes exiting."""
    assert fcntl is not None
    deadline = time.monotonic() + grace_s
    while True:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)


class _PortInUseError(EmbeddedServerError):
    """An auto-picked port was grabbed by someone else between picking and binding: retry."""


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _uri(host: str, port: int) -> str:
    # retryWrites=false: SecantusDB 0.7 records every retryable write and, on each one, scans all the records
    # of the last 30 minutes (up to 10,000, sorted once over the cap), so a busy server's writes slowed as they
    # accumulated (docs/secantusdb.md). A retry only helps a failover, which a local server does not have; a
    # write cut by a restart fails as StoreUnavailable instead.
    shown = f"[{host}]" if ":" in host else host
    return f"mongodb://{shown}:{port}/?directConnection=true&retryWrites=false"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the child's process group (it leads its own session), falling back to the pid."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


_running: dict[int, EmbeddedMongoServer] = {}


def _register(server: EmbeddedMongoServer) -> None:
    if not _running:
        atexit.register(_stop_all_at_exit)
    _running[id(server)] = server


def _unregister(server: EmbeddedMongoServer) -> None:
    _running.pop(id(server), None)
    if not _running:
        atexit.unregister(_stop_all_at_exit)


def _stop_all_at_exit() -> None:
    for server in list(_running.values()):
        with contextlib.suppress(Exception):
            server._stop_sync()
        _running.pop(id(server), None)
