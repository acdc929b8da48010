"""How a turn ends, kept in one place: which turns are in flight, which of their writes still run, and the
shutdown's wait for both.

`async with tracker.turn():` spans a turn; `await tracker.shielded(write)` runs a store write that must
finish even when the turn awaiting it is cancelled (a client that leaves, a shutdown); `tracker.spawn(work)`
starts a task the turn does not wait for (a partial save, a reply that streams on without its client).
`drain` waits — on an event, not a poll — until nothing is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

log = logging.getLogger("centralita.chat")

T = TypeVar("T")


class TurnTracker:
    def __init__(self) -> None:
        self._turns = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        """Turns not ended plus writes and tasks still running."""
        return self._turns + len(self._tasks)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Counts a turn as in flight for the duration of the block."""
        self._turns += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._turns -= 1
            self._settle()

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `work` as a task of its own, counted until it is done."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    async def shielded(self, write: Coroutine[Any, Any, T]) -> T:
        """Run `write` to its end even if the caller is cancelled meanwhile; its outcome is the caller's."""
        task = self.spawn(write)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_abandoned_failure)  # nobody awaits its outcome any more
            raise

    async def drain(self, seconds: float) -> int:
        """Wait until nothing is in flight (at shutdown, before the store closes); returns what still runs
        after `seconds`."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        return self.in_flight

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._settle()

    def _settle(self) -> None:
        if not self._turns and not self._tasks:
            self._idle.set()


def _log_abandoned_failure(task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.warning(
            "a store write of a cancelled turn failed: %s", getattr(error, "code", type(error).__name__)
        )
