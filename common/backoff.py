"""Jittered exponential backoff for reconnects and retries, shared by every component.

Standard library only, so the agent imports it too without new dependencies.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Full-jitter exponential backoff: each delay is uniform in ``[0, min(cap, base * 2**n)]``.

    Full jitter spreads a fleet of agents that lost the same collector (or collectors and
    API processes that lost the same database), so they do not retry in lockstep.
    :meth:`reset` after a connection proved stable.
    """

    def __init__(
        self,
        *,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError("need 0 < base_s <= cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self._uniform = uniform
        self.attempts = 0

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        # Bound the exponent so a long outage never overflows a float.
        return min(self.cap_s, self.base_s * 2.0 ** min(self.attempts, 62))

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts as one failed attempt."""
        delay = self._uniform(0.0, self.ceiling())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Start again from ``base_s``."""
        self.attempts = 0
