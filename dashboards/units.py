"""Human units for bytes, rates, percentages and durations. Pure functions."""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "bit_rate_scale",
    "byte_scale",
    "format_ago",
    "format_bit_rate",
    "format_bytes",
    "format_duration",
    "format_percent",
    "format_rate",
    "format_step",
    "format_utc_offset",
    "percent",
    "si_scale",
]

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
# Line rates are quoted in decimal bits (a "1 Gbit/s" port), never in binary units.
_BIT_RATE_UNITS = ("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s")
_SI_PREFIXES = ("", "k", "M", "G", "T")


def byte_scale(largest: float) -> tuple[float, str]:
    """The divisor and unit that show ``largest`` bytes as a number under 1024."""
    divisor, index = 1.0, 0
    while abs(largest) >= divisor * 1024 and index < len(_BINARY_UNITS) - 1:
        divisor *= 1024
        index += 1
    return divisor, _BINARY_UNITS[index]


def format_bytes(value: float | None) -> str:
    """``1610612736`` → ``1.5 GiB``; None → ``—``."""
    if value is None:
        return "—"
    divisor, unit = byte_scale(value)
    if unit == "B":
        return f"{value:.0f} B"
    scaled = value / divisor
    return f"{scaled:.1f} {unit}" if scaled < 100 else f"{scaled:.0f} {unit}"


def format_rate(bytes_per_second: float | None) -> str:
    """``1536`` → ``1.5 KiB/s``."""
    return "—" if bytes_per_second is None else f"{format_bytes(bytes_per_second)}/s"


def percent(used: float | None, total: float | None) -> float | None:
    """``used`` as a percentage of ``total``; None when either is unknown or total is 0."""
    if used is None or not total:
        return None
    return 100.0 * used / total


def format_percent(value: float | None) -> str:
    """``42.123`` → ``42.1%``."""
    return "—" if value is None else f"{value:.1f}%"


def format_duration(seconds: float | None) -> str:
    """``93784`` → ``1d 2h``; under an hour, minutes and seconds."""
    if seconds is None or seconds < 0:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def format_ago(moment: datetime | None, now: datetime) -> str:
    """``moment`` relative to ``now``: ``just now``, ``12s ago``, ``3h 5m ago``, ``never``."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 2:
        return "just now"
    return f"{format_duration(seconds)} ago"


def format_step(step_ms: int) -> str:
    """A bucket width: ``5000`` → ``5 s``, ``600000`` → ``10 min``, ``7200000`` → ``2 h``."""
    seconds = step_ms / 1000
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def si_scale(largest: float) -> tuple[float, str]:
    """The divisor and decimal prefix (``""``, ``k``, ``M`` …) that show ``largest`` under 1000."""
    divisor, index = 1.0, 0
    while abs(largest) >= divisor * 1000 and index < len(_SI_PREFIXES) - 1:
        divisor *= 1000
        index += 1
    return divisor, _SI_PREFIXES[index]


def bit_rate_scale(largest_bits_per_second: float) -> tuple[float, str]:
    """The divisor and unit (``bit/s`` … ``Tbit/s``) that show ``largest`` bits/s under 1000."""
    divisor, prefix = si_scale(largest_bits_per_second)
    return divisor, _BIT_RATE_UNITS[_SI_PREFIXES.index(prefix)]


def format_bit_rate(bytes_per_second: float | None) -> str:
    """A byte rate as bits per second: ``125000`` → ``1.00 Mbit/s``."""
    if bytes_per_second is None:
        return "—"
    bits = bytes_per_second * 8
    divisor, unit = bit_rate_scale(bits)
    return f"{bits:.0f} {unit}" if divisor == 1 else f"{bits / divisor:.2f} {unit}"


def format_utc_offset(offset_min: int) -> str:
    """Minutes east of UTC as ``UTC+05:30``, ``UTC-03:00`` or ``UTC``."""
    if offset_min == 0:
        return "UTC"
    sign = "+" if offset_min > 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"
