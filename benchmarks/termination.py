"""SIGTERM handled like Ctrl-C, so a benchmark stopped by `timeout` or `kill` still stops what it started.

Python dies on SIGTERM without running `finally` blocks or context managers; the benchmarks start their
children in their own sessions (so that a Ctrl-C reaches only the benchmark, which stops them in order),
so nothing else would stop them.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does, so every clean-up runs."""
    signal.signal(signal.SIGTERM, _interrupt)


async def _cancelled_on_sigterm(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await main
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with SIGTERM cancelling `main` as Ctrl-C does, so its `async with` blocks unwind."""
    try:
        return asyncio.run(_cancelled_on_sigterm(main))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
