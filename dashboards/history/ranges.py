"""Which time range the history shows, and how it is written in the URL. Pure.

A range is either a preset ("the last 6 h", moving with now) or fixed
(``from``/``to``, from the custom picker or a zoom). The URL holds it as
``?range=6h`` or ``?from=2026-01-31T12:00:00Z&to=2026-01-31T13:00:00Z`` (with
``&back=6h`` after a zoom from a preset: where a double-click returns), so a link
reproduces the view; anything unreadable there falls back to the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "DEFAULT_PRESET",
    "MIN_SPAN_MS",
    "PRESETS",
    "HistoryRange",
    "from_local_input",
    "from_query",
    "from_store",
    "iso_utc",
    "parse_iso_utc",
    "to_local_input",
    "zoomed_range",
]

_MINUTE, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
PRESETS: dict[str, int] = {
    "1h": _HOUR,
    "6h": 6 * _HOUR,
    "24h": _DAY,
    "7d": 7 * _DAY,
    "30d": 30 * _DAY,
    "90d": 90 * _DAY,
    "1y": 365 * _DAY,
}
DEFAULT_PRESET = "1h"
# Narrower than this shows a handful of raw samples at most: a zoom stops here.
MIN_SPAN_MS = _MINUTE


@dataclass(frozen=True, slots=True)
class HistoryRange:
    """A preset key, or a fixed ``[from_ms, to_ms)`` in UTC epoch milliseconds; ``back`` is the
    preset a zoom started from, where a reset (double-click) returns."""

    preset: str | None = DEFAULT_PRESET
    from_ms: int = 0
    to_ms: int = 0
    back: str | None = None

    @classmethod
    def fixed(cls, from_ms: int, to_ms: int, back: str | None = None) -> HistoryRange:
        """A fixed range in whole seconds (as the URL holds it, so a link shows exactly this),
        widened around its middle to at least MIN_SPAN_MS."""
        from_ms, to_ms = from_ms // 1000 * 1000, -(-to_ms // 1000) * 1000
        if to_ms - from_ms < MIN_SPAN_MS:
            middle = (from_ms + to_ms) // 2
            from_ms, to_ms = middle - MIN_SPAN_MS // 2, middle + MIN_SPAN_MS // 2
        return cls(None, from_ms, to_ms, back if back in PRESETS else None)

    def bounds(self, now_ms: int) -> tuple[int, int]:
        """``(from_ms, to_ms)``; a preset ends at ``now_ms``."""
        if self.preset is not None:
            return now_ms - PRESETS[self.preset], now_ms
        return self.from_ms, self.to_ms

    def query(self) -> str:
        """The URL query string that reproduces this range."""
        if self.preset is not None:
            return "?" + urlencode({"range": self.preset})
        fixed = {"from": iso_utc(self.from_ms), "to": iso_utc(self.to_ms)}
        return "?" + urlencode({**fixed, **({"back": self.back} if self.back else {})}, safe=":")

    def store(self) -> dict[str, Any]:
        """The form kept in the page's ``dcc.Store``."""
        if self.preset is not None:
            return {"preset": self.preset}
        return {"from_ms": self.from_ms, "to_ms": self.to_ms, "back": self.back}


def iso_utc(epoch_ms: int) -> str:
    """``2026-01-31T12:00:00Z`` (whole seconds: a link does not need more)."""
    return datetime.fromtimestamp(epoch_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> int | None:
    """Epoch ms of an ISO-8601 instant (UTC when it has no offset); None if unreadable."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return round(parsed.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def from_query(query: Mapping[str, Any]) -> HistoryRange:
    """The range a URL's query parameters describe; the default when they describe none."""
    preset = query.get("range")
    if isinstance(preset, str) and preset in PRESETS:
        return HistoryRange(preset)
    start, end = query.get("from"), query.get("to")
    if isinstance(start, str) and isinstance(end, str):
        from_ms, to_ms = parse_iso_utc(start), parse_iso_utc(end)
        if from_ms is not None and to_ms is not None and 0 <= from_ms < to_ms:
            back = query.get("back")
            return HistoryRange.fixed(from_ms, to_ms, back if isinstance(back, str) else None)
    return HistoryRange()


def from_store(data: Mapping[str, Any] | None) -> HistoryRange:
    """The inverse of :meth:`HistoryRange.store`."""
    if not data:
        return HistoryRange()
    preset = data.get("preset")
    if isinstance(preset, str) and preset in PRESETS:
        return HistoryRange(preset)
    from_ms, to_ms = data.get("from_ms"), data.get("to_ms")
    if isinstance(from_ms, int) and isinstance(to_ms, int) and from_ms < to_ms:
        back = data.get("back")
        return HistoryRange.fixed(from_ms, to_ms, back if isinstance(back, str) else None)
    return HistoryRange()


def _axis_ms(value: Any, tz_offset_min: int) -> int | None:
    """A Plotly date-axis value (local wall time, as the figures are shifted) as UTC epoch ms."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return round(value) - tz_offset_min * _MINUTE
    if isinstance(value, str):
        local = parse_iso_utc(value)
        return None if local is None else local - tz_offset_min * _MINUTE
    return None


def zoomed_range(
    relayout: Mapping[str, Any] | None, tz_offset_min: int, current: HistoryRange | None = None
) -> HistoryRange | None:
    """The range a chart's ``relayoutData`` asks for: an x zoom (remembering the preset it
    started from), or after a reset (double-click) that preset again. None when the event
    changes nothing (autosize, a y-only zoom, a reset with no preset to return to)."""
    if not relayout:
        return None
    back = None if current is None else current.preset or current.back
    if relayout.get("xaxis.autorange") is True:
        return HistoryRange(back) if current is not None and current.preset is None and back else None
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        ends = [relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]]
    elif isinstance(relayout.get("xaxis.range"), list) and len(relayout["xaxis.range"]) == 2:
        ends = list(relayout["xaxis.range"])
    else:
        return None
    start, end = (_axis_ms(v, tz_offset_min) for v in ends)
    if start is None or end is None or start >= end:
        return None
    return HistoryRange.fixed(start, end, back)


def to_local_input(epoch_ms: int, tz_offset_min: int) -> str:
    """``epoch_ms`` as the range picker shows it: local wall time, ``2026-01-31 12:00``."""
    local = datetime.fromtimestamp((epoch_ms + tz_offset_min * _MINUTE) // 1000, UTC)
    return local.strftime("%Y-%m-%d %H:%M")


def from_local_input(value: str | None, tz_offset_min: int) -> int | None:
    """UTC epoch ms of a range-picker value (local wall time such as ``2026-01-31 12:00``,
    no offset); None if empty or unreadable."""
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if local.tzinfo is not None:
        return None
    return round(local.replace(tzinfo=UTC).timestamp() * 1000) - tz_offset_min * _MINUTE
