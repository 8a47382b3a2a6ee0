"""Stable ids of the elements the live feed updates on the fleet page, per VPS and field.

Any view of the fleet (cards, a table) marks its live elements with :func:`live_id`;
``assets/live_feed.js`` sets them from pushed samples. Only one view may show them at
a time, since Dash ids are unique on a page.
"""

from __future__ import annotations

__all__ = ["FIELDS", "LIVE_TYPE", "live_id"]

LIVE_TYPE = "fleet-live"
# The status badge; CPU and memory values with their bars and detail lines; the network line.
FIELDS = ("status", "cpu", "cpu-bar", "cpu-detail", "memory", "memory-bar", "memory-detail", "net")


def live_id(vps_id: int, field: str) -> dict[str, str | int]:
    """The id of VPS ``vps_id``'s live ``field`` element."""
    if field not in FIELDS:
        raise ValueError(f"no live field {field!r}; one of {', '.join(FIELDS)}")
    return {"type": LIVE_TYPE, "vps": vps_id, "field": field}
