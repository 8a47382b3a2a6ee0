"""argon2 work on a small thread pool of its own, with a bounded queue.

Hashing a password is meant to be slow. Run on the default executor, a burst
of bad logins would take every thread (and, before, every pooled database
connection) and stall all other requests. Here at most ``workers`` hashes run
at once (half the cores by default, so the event loop and the database keep
the rest) and at most ``max_waiting`` more wait; beyond that the caller gets a
503 with Retry-After at once instead of queueing without bound.

The pool's threads run at the lowest CPU priority (nice 19 on Linux, where a
thread's priority is its own and the threads argon2 starts for its lanes
inherit it): hashing then uses the CPU that serving requests leaves idle, so a
storm of logins slows logins, not the rest of the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from api.errors import ProblemError

__all__ = ["HashingPool", "default_workers"]

T = TypeVar("T")

MAX_WAITING = 64
HASHING_NICENESS = 19


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: keep the default
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


def default_workers() -> int:
    """Half the cores this process may use, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // 2)


class HashingPool:
    """Runs argon2 calls off the event loop, ``workers`` at a time."""

    def __init__(self, workers: int | None = None, max_waiting: int = MAX_WAITING) -> None:
        self.workers = workers or default_workers()
        self._executor = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="tidewatch-argon2", initializer=_lower_priority
        )
        self._admitted = asyncio.Semaphore(self.workers + max_waiting)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the pool; 503 when the queue is full."""
        if self._admitted.locked():
            raise ProblemError(
                503,
                "too many password checks are queued; try again shortly",
                title="Busy",
                headers={"Retry-After": "1"},
            )
        async with self._admitted:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        """Stop the threads (queued work is cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
