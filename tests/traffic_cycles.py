"""Traffic quota cycles in tests: a reset day that keeps recent samples in one cycle.

A test that writes samples over the last hours or days must not depend on today's date:
with the default reset day 1, a run just after midnight on the 1st has a cycle only
minutes old, and most of those samples fall in the previous one."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["reset_day_some_days_ago"]


def reset_day_some_days_ago(today: date) -> date:
    """The latest day 2-6 days before today that can be a reset day (1-28)."""
    for back in range(2, 7):
        candidate = today - timedelta(days=back)
        if candidate.day <= 28:
            return candidate
    raise AssertionError("unreachable: one of five consecutive days is <= 28")
