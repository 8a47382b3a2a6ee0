"""A short-lived, single-flight cache: however many visitors ask, the loader runs
at most once per period, so the public page cannot be used to load the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_TTL_S", "TimedCache"]

T = TypeVar("T")
DEFAULT_TTL_S = 5.0


class TimedCache(Generic[T]):
    """Holds one value for ``ttl_s``; concurrent misses wait for a single load.

    A failed load is not cached: the next request tries again (one at a time).
    ``loads`` counts the loader's runs.
    """

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.loads = 0
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: T | None = None
        self._loaded_at: float | None = None

    def _fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self.ttl_s

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value, or a new one from ``load``."""
        if self._fresh():
            return self._value  # type: ignore[return-value]
        async with self._lock:
            # Another request may have loaded it while this one waited.
            if not self._fresh():
                self._value = await load()
                self.loads += 1
                self._loaded_at = self._clock()
            return self._value  # type: ignore[return-value]

    def invalidate(self) -> None:
        """Forget the value (this instance; other API instances expire theirs within ``ttl_s``)."""
        self._loaded_at = None
