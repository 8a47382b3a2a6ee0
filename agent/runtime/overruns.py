"""Samples that take longer than their interval: counted every time, logged once per streak."""

from __future__ import annotations

import logging

__all__ = ["OverrunWatch"]

log = logging.getLogger(__name__)


class OverrunWatch:
    """Counts samples that overran their interval.

    The first overrun of a streak is logged with its figures; the streak's end
    is logged once too, so a host that is always too slow says so once, not
    every interval.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.total = 0
        self._streak = 0

    def note(self, took_s: float, interval_s: float, items: int) -> None:
        """Record one sample that took ``took_s`` for ``items`` things, on an ``interval_s`` cadence."""
        if took_s > interval_s:
            self.total += 1
            self._streak += 1
            if self._streak == 1:
                log.warning(
                    "%s sample took %.1f s for %d containers, longer than its %.1f s interval; "
                    "samples are late (counted in the heartbeat; logged again only after it recovers)",
                    self.what,
                    took_s,
                    items,
                    interval_s,
                )
            return
        if self._streak:
            log.info(
                "%s sampling back within its interval: %.1f s for %d containers (interval %.1f s) "
                "after %d overruns",
                self.what,
                took_s,
                items,
                interval_s,
                self._streak,
            )
            self._streak = 0
