"""Agent clock skew: the limit and its wording, shared by collector, API and dashboards. Pure."""

from __future__ import annotations

__all__ = [
    "CLOCK_CORRECTION_MIN_MS",
    "CLOCK_SKEW_LIMIT_MS",
    "applied_offset_ms",
    "clock_skew_note",
    "is_clock_skewed",
]

# Within this, a skewed clock is corrected silently (and recorded); beyond it,
# the VPS shows "clock skewed by X" and the collector's gauge crosses the alert line.
CLOCK_SKEW_LIMIT_MS = 300_000
# Offsets smaller than this are measurement noise (an estimate is only good to half a
# round trip, which a busy host stretches), so they are recorded but not applied:
# stored times then equal the agent's own, and rates never jitter from re-estimates.
CLOCK_CORRECTION_MIN_MS = 1_000


def applied_offset_ms(offset_ms: int) -> int:
    """The correction actually applied to an agent's timestamps for a measured offset."""
    return offset_ms if abs(offset_ms) >= CLOCK_CORRECTION_MIN_MS else 0


def is_clock_skewed(offset_ms: int | None) -> bool:
    """Whether an offset (collector minus agent time) is past the limit."""
    return offset_ms is not None and abs(offset_ms) > CLOCK_SKEW_LIMIT_MS


def _duration(ms: int) -> str:
    seconds = round(abs(ms) / 1000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    shown = [p for p in parts if p][:2]
    if len(shown) < 2 and (seconds or not shown):
        shown.append(f"{seconds} s")
    return " ".join(shown)


def clock_skew_note(offset_ms: int | None) -> str | None:
    """``"clock skewed by 9 min 56 s (ahead)"`` past the limit, else None."""
    if offset_ms is None or not is_clock_skewed(offset_ms):
        return None
    direction = "ahead" if offset_ms < 0 else "behind"
    return f"clock skewed by {_duration(offset_ms)} ({direction})"
