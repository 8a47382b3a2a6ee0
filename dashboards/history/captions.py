"""The words around the history charts: resolution in use, time zone, range shown. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from common.api_models import SeriesWindow
from dashboards.units import format_step, format_utc_offset

__all__ = ["RESOLUTION_NAMES", "describe_range", "describe_resolution", "describe_timezone"]

RESOLUTION_NAMES = {"raw": "raw samples", "1m": "1-minute rollup", "1h": "1-hour rollup"}


def describe_resolution(window: SeriesWindow) -> str:
    """``1-minute rollup · 5 min buckets``."""
    return f"{RESOLUTION_NAMES[window.resolution]} · {format_step(window.step_ms)} buckets"


def describe_timezone(name: str | None, offset_min: int) -> str:
    """``times in Europe/Berlin (UTC+01:00)``; the offset alone when the name is unknown."""
    offset = format_utc_offset(offset_min)
    return f"times in {name} ({offset})" if name and name != offset else f"times in {offset}"


def describe_range(from_ms: int, to_ms: int, offset_min: int) -> str:
    """The window in local time: ``2026-01-31 12:00 → 13:30``, the date repeated when it changes."""

    def local(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000 + offset_min * 60, UTC)

    start, end = local(from_ms), local(to_ms)
    tail = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} → {tail}"
