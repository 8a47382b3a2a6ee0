"""Which data answers a range query, and at what bucket width. Pure functions.

The rule (docs/api.md explains it for users):

1. The step is the smallest "nice" width (1 s, 2 s, 5 s … 1 h, 2 h … 7 d) for
   which the range holds at most ``max_points`` buckets.
2. A step under a minute reads raw samples, bucketed on the fly: raw data is
   exact and always current, while the Apache edition's rollups trail the
   newest data by up to a refresh interval. A step of a minute or more reads
   the 1-minute rollup; an hour or more, the 1-hour rollup.
   Then, by points: where the 1-hour tier alone still yields at least a third
   of ``max_points`` buckets (ranges from about 21 days at 1,500 points), it
   answers at its native width, so a 30-day chart reads 720 hourly rows
   instead of re-bucketing 43,200 one-minute rows.
3. Where the range starts before a tier's retention, the next coarser tier
   answers instead (raw kept 7 days, 1-minute 90 days by default).
4. An explicit ``resolution`` picks the tier; the step still grows so the
   point limit holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.api_models.metrics import Resolution, ResolutionChoice
from common.api_models.text import END
from common.epoch import YEAR_10000_MS

__all__ = [
    "DEFAULT_RANGE",
    "EPOCH_MS_PATTERN",
    "MAX_RANGE",
    "TIER_WIDTHS",
    "YEAR_1970_TO_9999_PATTERN",
    "Coverage",
    "Plan",
    "WindowError",
    "choose_plan",
    "parse_instant",
    "resolve_window",
]

DEFAULT_RANGE = timedelta(hours=1)
MAX_RANGE = timedelta(days=3660)
# Native bucket width of each tier; raw samples get at least one-second buckets.
TIER_WIDTHS: dict[Resolution, timedelta] = {
    "raw": timedelta(seconds=1),
    "1m": timedelta(minutes=1),
    "1h": timedelta(hours=1),
}
_S, _M, _H, _D = (timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1))
NICE_STEPS = (
    _S, 2 * _S, 5 * _S, 10 * _S, 15 * _S, 30 * _S,
    _M, 2 * _M, 5 * _M, 10 * _M, 15 * _M, 30 * _M,
    _H, 2 * _H, 3 * _H, 6 * _H, 12 * _H,
    _D, 2 * _D, 7 * _D, 14 * _D, 30 * _D,
)  # fmt: skip
# ASCII only: `\d` would take Arabic-Indic or full-width digits as epoch values.
# At most 14 digits (through the year 5138): every such value is in range, so the pattern says it all.
_EPOCH_DIGITS = r"(?:0|[1-9][0-9]{0,13})"
_EPOCH_MS = re.compile(_EPOCH_DIGITS, re.ASCII)
# The same, as the OpenAPI document states it; date-times there carry the year range as a pattern.
EPOCH_MS_PATTERN = f"^{_EPOCH_DIGITS}{END}"
YEAR_1970_TO_9999_PATTERN = "^(?:19[7-9][0-9]|[2-9][0-9]{3})-"
_MAX_EPOCH_MS = YEAR_10000_MS - 1  # 9999-12-31T23:59:59.999Z
# RFC 3339 date-time (offset optional: none means UTC); fromisoformat alone also takes
# dates without a time, week dates and other ISO-8601 forms the OpenAPI document does not promise.
_ISO_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime.fromtimestamp(_MAX_EPOCH_MS / 1000, UTC)


class WindowError(ValueError):
    """A bad ``from``/``to``; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_instant(value: str, field: str) -> datetime:
    """An RFC 3339 timestamp (UTC when it has no offset) or integer epoch milliseconds,
    between 1970 and 9999."""
    if _EPOCH_MS.fullmatch(value):
        millis = int(value)
        if not 0 <= millis <= _MAX_EPOCH_MS:
            raise WindowError(field, f"epoch milliseconds {millis} are outside 1970..9999")
        return datetime.fromtimestamp(millis / 1000, UTC)
    shown = value if len(value) <= 40 else value[:40] + "…"
    try:
        if _ISO_INSTANT.fullmatch(value) is None:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.upper())
        instant = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise WindowError(
            field,
            f"{shown!r} is not a timestamp: use RFC 3339 (2025-01-31T12:00:00Z) or epoch milliseconds",
        ) from None
    if not EARLIEST <= instant <= LATEST:
        raise WindowError(field, f"{shown!r} is outside 1970..9999")
    return instant


def resolve_window(from_value: str | None, to_value: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``[from, to)``: ``to`` defaults to now, ``from`` to an hour before ``to``; ``from == to`` is empty;
    at most MAX_RANGE long (an earlier ``from`` is moved up)."""
    end = parse_instant(to_value, "to") if to_value is not None else now
    start = parse_instant(from_value, "from") if from_value is not None else end - DEFAULT_RANGE
    # [t, t) is a valid, empty window; only a reversed one is a mistake.
    if start > end:
        raise WindowError("from", f"must not be after to ({start.isoformat()} > {end.isoformat()})")
    # Longer ranges are clipped, not refused: the response's from_ms says where the data starts.
    return max(start, end - MAX_RANGE), end


@dataclass(frozen=True, slots=True)
class Coverage:
    """How far back each tier holds data, as of ``now``."""

    now: datetime
    raw_keep: timedelta
    keep_1m: timedelta


@dataclass(frozen=True, slots=True)
class Plan:
    """The tier to read and the bucket width to group it by."""

    resolution: Resolution
    step: timedelta


def _tier_of(step: timedelta) -> Resolution:
    if step < TIER_WIDTHS["1m"]:
        return "raw"
    return "1m" if step < TIER_WIDTHS["1h"] else "1h"


def _nice_step(min_step: timedelta) -> timedelta:
    for step in NICE_STEPS:
        if step >= min_step:
            return step
    return _D * math.ceil(min_step / _D)


def _enough_points_at(tier: Resolution, start: datetime, end: datetime, max_points: int) -> bool:
    """Whether ``tier``'s native buckets alone give a chart at least a third of ``max_points``."""
    return (end - start) / TIER_WIDTHS[tier] >= max(1, max_points // 3)


def choose_plan(
    start: datetime, end: datetime, requested: ResolutionChoice, max_points: int, coverage: Coverage
) -> Plan:
    """The plan for ``[start, end)`` that yields at most ``max_points`` buckets."""
    # Buckets are aligned, so a range of n steps can touch n + 1 of them.
    min_step = (end - start) / max(1, max_points - 1)
    step = _nice_step(min_step)
    if requested != "auto":
        tier: Resolution = requested
    else:
        tier = _tier_of(step)
        if tier == "1m" and _enough_points_at("1h", start, end, max_points):
            tier = "1h"
        if tier == "raw" and start < coverage.now - coverage.raw_keep:
            tier = "1m"
        if tier == "1m" and start < coverage.now - coverage.keep_1m:
            tier = "1h"
    return Plan(resolution=tier, step=max(step, TIER_WIDTHS[tier]))
