"""Time ranges that late data touched, merged so each is refreshed once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

__all__ = ["TimeRange", "merge_ranges"]

TimeRange = tuple[datetime, datetime]


def merge_ranges(ranges: Iterable[TimeRange], gap: timedelta = timedelta(0)) -> list[TimeRange]:
    """The ranges in order, with those that overlap or lie within ``gap`` of each other joined."""
    merged: list[TimeRange] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
