"""argon2 work in a small, low-priority process pool with an admission limit.

Hashing a password is meant to be slow, so a burst of bad logins must neither
stall other requests nor queue without bound:

- The work runs in worker *processes* at nice 10 (half the cores by default).
  Threads would share the GIL with the event loop: a low-priority thread that
  holds it while the kernel leaves it waiting (a busy machine favours everyone
  else) stalls every request until it runs again. A process shares no lock with
  the event loop, and its low priority lets request handling come first.
- At most ``workers + max_waiting`` password checks are admitted at once, and
  at most GENERAL_RATE a second; beyond that the caller gets a 503 problem
  with Retry-After at once instead of waiting in a queue that only grows while
  the storm lasts. The rate bounds the CPU a storm can spend on argon2 even on
  an idle machine, where a low priority takes nothing back.
- A few slots are reserved for callers the login route trusts (an address and
  username that signed in successfully lately, api.auth.recent_logins), so an
  attacker who fills the general slots from many addresses does not keep the
  real admin out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from api.auth.throttle import BucketRule, TokenBuckets
from api.errors import ProblemError

__all__ = ["HashingPool", "HashingSlot", "default_workers"]

T = TypeVar("T")

HASHING_NICENESS = 10
PARENT_CHECK_S = 1.0
RESERVED_SLOTS = 2
# General slots also admit at most this many checks a second (in bursts of 8): ~10 % of a
# core at today's parameters, whatever the storm. The reserved slots are not rate-limited.
GENERAL_RATE = BucketRule(capacity=8, per_minute=4 * 60)
_GENERAL = "general"

log = logging.getLogger("tidewatch.api.hashing")


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _start_worker(niceness: int, api_pid: int) -> None:
    """Set up a worker process: low priority, and gone when the API process is."""
    with contextlib.suppress(OSError):  # not allowed: keep the default priority
        os.nice(niceness)
    # A worker blocks on a queue whose write end it holds too, so it would outlive an
    # API process that was killed: it watches for being orphaned instead. The API's pid
    # comes from the API: one killed before this runs would otherwise look like our parent.
    threading.Thread(target=_watch_parent, args=(api_pid,), daemon=True).start()


def default_workers() -> int:
    """Half the cores this process may use, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // 2)


def _busy() -> ProblemError:
    return ProblemError(
        503,
        "too many password checks are in progress; try again shortly",
        title="Busy",
        headers={"Retry-After": "1"},
    )


class HashingSlot:
    """An admitted caller's right to run argon2 work on the pool."""

    def __init__(self, pool: HashingPool) -> None:
        self._pool = pool

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker process (``fn`` and its arguments must pickle)."""
        return await self._pool._submit(fn, *args)


class HashingPool:
    """Runs argon2 calls in ``workers`` low-priority processes, admitting a bounded number."""

    def __init__(
        self,
        workers: int | None = None,
        max_waiting: int | None = None,
        reserved_slots: int = RESERVED_SLOTS,
        niceness: int = HASHING_NICENESS,
        general_rate: BucketRule | None = GENERAL_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers = workers or default_workers()
        self.max_waiting = self.workers if max_waiting is None else max_waiting
        self._niceness = niceness
        self._general = asyncio.Semaphore(self.workers + self.max_waiting)
        self._reserved = asyncio.Semaphore(reserved_slots)
        self._general_rate = TokenBuckets(general_rate, clock) if general_rate is not None else None
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn: the API process runs threads, which fork would copy mid-flight.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._niceness, os.getpid()),
        )

    def warm(self) -> None:
        """Start the worker processes now, not on the first login (returns at once)."""
        self._executor.submit(os.getpid)

    def admission(self, trusted: bool = False) -> AbstractAsyncContextManager[HashingSlot]:
        """A slot for one caller's hashing (enter it at once), or a 503 when none is free.

        ``trusted`` callers use the reserved slots first, then the general ones.
        """
        if trusted and not self._reserved.locked():
            return self._hold(self._reserved)
        if not self._general.locked():
            if self._general_rate is None:
                return self._hold(self._general)
            if self._general_rate.wait_s(_GENERAL) == 0:
                self._general_rate.take(_GENERAL)
                return self._hold(self._general)
        raise _busy()

    @contextlib.asynccontextmanager
    async def _hold(self, lane: asyncio.Semaphore) -> AsyncIterator[HashingSlot]:
        async with lane:
            yield HashingSlot(self)

    async def run(self, fn: Callable[..., T], *args: object, trusted: bool = False) -> T:
        """``fn(*args)`` in a slot (``trusted``: reserved first, as for signed-in callers,
        whom a storm of anonymous logins must not lock out); 503 when none is free."""
        async with self.admission(trusted) as slot:
            return await slot.run(fn, *args)

    async def _submit(self, fn: Callable[..., T], *args: object) -> T:
        executor = self._executor
        try:
            return await asyncio.wrap_future(executor.submit(fn, *args))
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a fresh pool for the next caller.
            log.error("a password hashing process died; starting a new pool")
            if self._executor is executor:
                self._executor = self._new_executor()
            raise _busy() from None

    def close(self) -> None:
        """Stop the processes (queued work is cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
