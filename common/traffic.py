"""Monthly traffic cycles: where a cycle starts, what it used, when the quota runs out.

Pure functions over daily byte totals (local dates in the VPS's timezone), so the
API and the evaluator compute cycles the same way and tests need no database.
A cycle starts at local midnight on the reset day (1-28) and ends at the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "DIRECTIONS",
    "CycleUsage",
    "DailyBytes",
    "Forecast",
    "cycle_start_date",
    "cycle_starts",
    "cycles_from_days",
    "forecast",
    "used_bytes",
]

DIRECTIONS = ("in", "out", "max", "total")


@dataclass(frozen=True, slots=True)
class DailyBytes:
    day: date
    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True, slots=True)
class CycleUsage:
    start: datetime
    end: datetime
    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True, slots=True)
class Forecast:
    used_bytes: int
    projected_bytes: int
    bytes_per_day: float
    # When the quota runs out at this cycle's rate; None if not before the cycle ends.
    exhausted_at: datetime | None


def _add_months(day: date, months: int, reset_day: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, reset_day)


def cycle_start_date(today: date, reset_day: int) -> date:
    """The local date the cycle containing ``today`` started."""
    if not 1 <= reset_day <= 28:
        raise ValueError("reset_day must be 1-28")
    start = date(today.year, today.month, reset_day)
    return start if today >= start else _add_months(start, -1, reset_day)


def cycle_starts(now: datetime, reset_day: int, timezone: str, count: int) -> list[datetime]:
    """Start instants of the current cycle and the ``count - 1`` before it, oldest first,
    plus the current cycle's end as the last element."""
    zone = ZoneInfo(timezone)
    current = cycle_start_date(now.astimezone(zone).date(), reset_day)
    days = [_add_months(current, offset, reset_day) for offset in range(-(count - 1), 2)]
    return [datetime.combine(d, time(0), tzinfo=zone) for d in days]


def used_bytes(rx_bytes: int, tx_bytes: int, direction: str) -> int:
    """What the quota counts: in (received), out (sent), the larger, or both."""
    if direction == "in":
        return rx_bytes
    if direction == "out":
        return tx_bytes
    if direction == "max":
        return max(rx_bytes, tx_bytes)
    if direction == "total":
        return rx_bytes + tx_bytes
    raise ValueError(f"unknown direction {direction!r}")


def cycles_from_days(
    days: Iterable[DailyBytes], now: datetime, reset_day: int, timezone: str, count: int
) -> list[CycleUsage]:
    """Sum daily totals into the last ``count`` cycles, oldest first (the last is current)."""
    bounds = cycle_starts(now, reset_day, timezone, count)
    totals = [[0, 0] for _ in range(count)]
    for item in days:
        instant = datetime.combine(item.day, time(0), tzinfo=bounds[0].tzinfo)
        for index in range(count):
            if bounds[index] <= instant < bounds[index + 1]:
                totals[index][0] += item.rx_bytes
                totals[index][1] += item.tx_bytes
                break
    return [CycleUsage(bounds[i], bounds[i + 1], totals[i][0], totals[i][1]) for i in range(count)]


def forecast(cycle: CycleUsage, now: datetime, direction: str, quota_bytes: int | None) -> Forecast:
    """Project this cycle's use to its end at the rate so far; find when the quota runs out."""
    used = used_bytes(cycle.rx_bytes, cycle.tx_bytes, direction)
    elapsed_s = max((now - cycle.start).total_seconds(), 1.0)
    remaining_s = max((cycle.end - now).total_seconds(), 0.0)
    rate_per_s = used / elapsed_s
    projected = int(used + rate_per_s * remaining_s)
    exhausted_at: datetime | None = None
    if quota_bytes is not None:
        if used >= quota_bytes:
            exhausted_at = now
        elif rate_per_s > 0:
            at = now + timedelta(seconds=(quota_bytes - used) / rate_per_s)
            exhausted_at = at if at < cycle.end else None
    return Forecast(used, projected, rate_per_s * 86_400.0, exhausted_at)
