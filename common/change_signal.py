"""Wake-ups for waiters on some state, without a lock (the collector's ingest queue,
the agent's live settings).

``asyncio.Condition`` ties every wait to its lock. On Python 3.11 a waiter
cancelled twice (a stream the agent dropped while it waited for room: gRPC
cancels the handler, its clean-up cancels again) can leave the lock's
re-acquisition running after the waiter has gone, holding or releasing a lock
nobody owns: later waiters then fail with "Lock is not acquired" or block for
good, the flushers among them (bench.collector_load at 7,800 agents, one
collector, saw both). The queue is read and changed only between awaits on one
event loop, so it needs no lock: each waiter re-checks its own predicate
whenever it is woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["ChangeSignal"]


class ChangeSignal:
    """``notify_all`` wakes every current waiter; ``wait_for`` waits for a predicate."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify_all(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float | None = None) -> bool:
        """True if a change is notified within ``timeout_s`` (None: however long); False otherwise."""
        if timeout_s is not None and timeout_s <= 0:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """True once ``predicate()`` holds; False when ``timeout_s`` passes first.
        Cancelling it at any point leaves nothing behind."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while not predicate():
            if not await self.wait(None if deadline is None else deadline - loop.time()):
                return predicate()
        return True
