"""Counter and rate maths, in one place.

Kernel and engine counters only grow, until they are reset (a reboot, a driver
reload, a restarted container) or wrap at their width. These pure functions turn
two readings of a counter into a delta, a rate or a percentage, and never
report a negative number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = [
    "MIN_INTERVAL_S",
    "CpuPercentages",
    "CpuTimes",
    "busy_percent",
    "counter_delta",
    "counter_rate",
    "cpu_percentages",
    "rate_per_second",
    "share_percent",
]


def counter_delta(previous: int, current: int, *, wrap_at: int | None = None) -> int:
    """How much a monotonic counter grew between two readings.

    A counter that went backwards was reset (reboot, counter reset), so all of
    ``current`` counts as new: it is the least the counter can have grown.
    With ``wrap_at`` (for example ``2**32`` for a 32-bit counter) going backwards
    is read as a wrap instead: ``wrap_at - previous + current``.
    """
    if current >= previous:
        return current - previous
    if wrap_at is not None and previous < wrap_at and current < wrap_at:
        return wrap_at - previous + current
    return max(current, 0)


# Shorter intervals are clock noise, not measurements (and would overflow to inf).
MIN_INTERVAL_S = 1e-6


def rate_per_second(delta: int | float, seconds: float) -> float:
    """``delta`` spread over ``seconds``; 0.0 when no time passed (or negative, or NaN)."""
    if not seconds >= MIN_INTERVAL_S:
        return 0.0
    return max(float(delta), 0.0) / seconds


def counter_rate(previous: int, current: int, seconds: float) -> float:
    """Per-second growth of a counter between two readings, reset-aware."""
    return rate_per_second(counter_delta(previous, current), seconds)


def share_percent(part: float, whole: float, *, scale: float = 1.0) -> float:
    """``part`` as a percentage of ``whole`` times ``scale``; 0.0 when ``whole`` is empty.

    ``scale`` is for shares of more than one unit: a container using 1.5 of
    4 CPUs has ``share_percent(1.5, 4, scale=4) == 150.0``, as ``docker stats`` shows.
    """
    if whole <= 0.0 or part <= 0.0:
        return 0.0
    return part / whole * scale * 100.0


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative CPU seconds by state, as in ``/proc/stat`` (one CPU or all)."""

    user: float = 0.0
    nice: float = 0.0
    system: float = 0.0
    idle: float = 0.0
    iowait: float = 0.0
    irq: float = 0.0
    softirq: float = 0.0
    steal: float = 0.0
    guest: float = 0.0
    guest_nice: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> CpuTimes:
        """Build from a mapping such as ``psutil.cpu_times()._asdict()``; unknown keys are ignored."""
        return cls(**{f.name: float(values.get(f.name, 0.0)) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class CpuPercentages:
    """Shares of elapsed CPU time between two readings, in percent."""

    busy: float
    user: float
    system: float
    iowait: float
    steal: float


def _grew(previous: float, current: float) -> float:
    # Per-state CPU counters can step back slightly (hotplug, steal accounting).
    return max(current - previous, 0.0)


def cpu_percentages(previous: CpuTimes, current: CpuTimes) -> CpuPercentages:
    """CPU use between two readings; all zero when no time elapsed.

    Busy excludes idle and iowait, as ``top`` and psutil count it.
    User includes nice, system includes irq and softirq.
    """
    deltas = {f.name: _grew(getattr(previous, f.name), getattr(current, f.name)) for f in fields(CpuTimes)}
    elapsed = sum(v for k, v in deltas.items() if k not in ("guest", "guest_nice"))
    if elapsed <= 0.0:
        return CpuPercentages(busy=0.0, user=0.0, system=0.0, iowait=0.0, steal=0.0)

    def pct(value: float) -> float:
        # Clamped both ways: float rounding in ``elapsed - idle - iowait`` can leave -1e-14.
        return min(max(value / elapsed * 100.0, 0.0), 100.0)

    return CpuPercentages(
        busy=pct(elapsed - deltas["idle"] - deltas["iowait"]),
        user=pct(deltas["user"] + deltas["nice"]),
        system=pct(deltas["system"] + deltas["irq"] + deltas["softirq"]),
        iowait=pct(deltas["iowait"]),
        steal=pct(deltas["steal"]),
    )


def busy_percent(previous: CpuTimes, current: CpuTimes) -> float:
    """Busy share between two readings of one CPU (or all), in percent."""
    return cpu_percentages(previous, current).busy
