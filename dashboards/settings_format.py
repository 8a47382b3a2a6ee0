"""Text for the Settings page. Pure, so it is unit tested without a browser."""

from __future__ import annotations

from dashboards.units import format_duration

__all__ = ["keep_text"]


def keep_text(seconds: int) -> str:
    """A retention period in whole days or hours where it is one: "90 days", "1 hour"."""
    for unit, size in (("day", 86400), ("hour", 3600)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return format_duration(seconds)
