"""Uptime over a window from a server's online and offline transitions. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["StatusChange", "uptime_percent"]


@dataclass(frozen=True)
class StatusChange:
    """One row of ``vps_status_events``: at ``time`` the server went online (or offline)."""

    time: datetime
    online: bool


def uptime_percent(
    changes: Sequence[StatusChange],
    start: datetime,
    end: datetime,
    created_at: datetime,
    online_now: bool,
) -> float | None:
    """The percentage of ``[start, end)`` the server was online, or None for an empty window.

    Time before ``created_at`` does not count: a server added mid-window is judged on
    the part it existed for. ``changes`` need the newest change before ``start`` (if any)
    to know the state at ``start``. Before the first change known the server was in the
    opposite state (changes alternate); with no change at all, ``online_now`` held throughout.
    """
    begin = max(start, created_at)
    if begin >= end:
        return None
    ordered = sorted(changes, key=lambda change: change.time)
    online = (not ordered[0].online) if ordered else online_now
    online_s = 0.0
    cursor = begin
    for change in ordered:
        if change.time >= end:
            break
        if change.time > begin:
            if online:
                online_s += (change.time - cursor).total_seconds()
            cursor = change.time
        online = change.online
    if online:
        online_s += (end - cursor).total_seconds()
    # Divide first: online all along is then exactly 1.0; float sums of parts can still
    # land a hair past it.
    return 100.0 * min(1.0, online_s / (end - begin).total_seconds())
