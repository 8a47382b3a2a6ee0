"""Per-device charts: network interfaces (bits/s), disk I/O (bytes/s and ops/s),
mounts (space and inodes), temperature sensors. Pure: API series in, figures out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import plotly.graph_objects as go

from common.api_models import DiskIoSeries, DiskSeries, NetworkSeries, SeriesWindow, TemperatureSeries
from dashboards.history.chart import Values, colour, empty_figure, gap_lines, history_figure, scaled
from dashboards.units import bit_rate_scale, byte_scale, si_scale

__all__ = [
    "MAX_DEVICES",
    "disk_io_bytes_figure",
    "disk_io_ops_figure",
    "disk_usage_figure",
    "inodes_figure",
    "network_figure",
    "temperature_figure",
]

# More lines than this make a chart unreadable: the busiest ones are shown.
MAX_DEVICES = 6


class _Timed(Protocol):
    time_ms: list[int]


T = TypeVar("T", bound=_Timed)


def _volume(values: Values) -> float:
    return sum(v for v in values if v is not None)


def _busiest(items: Sequence[T], weight: Callable[[T], float], name: Callable[[T], str]) -> list[T]:
    """The MAX_DEVICES heaviest items, in name order (stable colours as the range changes)."""
    return sorted(sorted(items, key=weight, reverse=True)[:MAX_DEVICES], key=name)


def _peak(columns: Sequence[Values]) -> float:
    return max((v for c in columns for v in c if v is not None), default=0.0)


def _pairs(
    names: Sequence[str],
    series: Sequence[tuple[list[int], Values, Values]],
    step_ms: int,
    tz_offset_min: int,
    hover: str,
) -> list[go.Scatter]:
    """Two lines per device, one colour each: the first solid (in/read), the second dotted (out/write)."""
    traces: list[go.Scatter] = []
    for index, (name, (times, first, second)) in enumerate(zip(names, series, strict=True)):
        pair = gap_lines(times, step_ms, tz_offset_min, [(f"{name} ↓", first), (f"{name} ↑", second)], hover)
        pair[0].update(line={"color": colour(index)})
        pair[1].update(line={"color": colour(index), "dash": "dot"})
        traces.extend(pair)
    return traces


Scale = Callable[[float], tuple[float, str]]


def _bits_per_second(peak_bytes: float) -> tuple[float, str]:
    divisor, unit = bit_rate_scale(8 * peak_bytes)
    return divisor / 8, unit


def _bytes_per_second(peak: float) -> tuple[float, str]:
    divisor, unit = byte_scale(peak)
    return divisor, f"{unit}/s"


def _ops_per_second(peak: float) -> tuple[float, str]:
    divisor, prefix = si_scale(peak)
    return divisor, f"{prefix}ops/s"


def _pair_figure(
    window: SeriesWindow,
    items: Sequence[T],
    name: Callable[[T], str],
    first: Callable[[T], Values],
    second: Callable[[T], Values],
    scale: Scale,
    tz_offset_min: int,
    uirevision: str,
) -> go.Figure:
    """The busiest items, two lines each (in/read solid, out/write dotted), on one scaled axis."""
    shown = _busiest(items, lambda i: _volume(first(i)) + _volume(second(i)), name)
    divisor, unit = scale(_peak([c for i in shown for c in (first(i), second(i))]))
    series = [(i.time_ms, scaled(first(i), divisor), scaled(second(i), divisor)) for i in shown]
    traces = _pairs([name(i) for i in shown], series, window.step_ms, tz_offset_min, f"%{{y:.2f}} {unit}")
    return history_figure(traces, window, tz_offset_min, uirevision, ticksuffix=f" {unit}")


def network_figure(network: NetworkSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Receive (↓ solid) and transmit (↑ dotted) per interface, in bits per second."""
    if not network.interfaces:
        return empty_figure("No network samples in this range")
    return _pair_figure(
        network, network.interfaces, lambda i: i.interface, lambda i: i.rx_bytes_per_second,
        lambda i: i.tx_bytes_per_second, _bits_per_second, tz_offset_min, uirevision,
    )  # fmt: skip


def disk_io_bytes_figure(io: DiskIoSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Read (↓ solid) and write (↑ dotted) throughput per block device, in binary bytes/s."""
    if not io.devices:
        return empty_figure("No disk I/O samples in this range")
    return _pair_figure(
        io, io.devices, lambda d: d.device, lambda d: d.read_bytes_per_second,
        lambda d: d.write_bytes_per_second, _bytes_per_second, tz_offset_min, uirevision,
    )  # fmt: skip


def disk_io_ops_figure(io: DiskIoSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Read (↓ solid) and write (↑ dotted) operations per second per block device."""
    if not io.devices:
        return empty_figure("No disk I/O samples in this range")
    return _pair_figure(
        io, io.devices, lambda d: d.device, lambda d: d.read_ops_per_second,
        lambda d: d.write_ops_per_second, _ops_per_second, tz_offset_min, uirevision,
    )  # fmt: skip


def _percent(used: Values, total: Values) -> list[float | None]:
    return [None if u is None or not t else 100.0 * u / t for u, t in zip(used, total, strict=True)]


def disk_usage_figure(disks: DiskSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Space used per mount, as % of its size (the size is in the hover, in binary units)."""
    if not disks.mounts:
        return empty_figure("No disk samples in this range")
    shown = _busiest(
        disks.mounts, lambda m: max((t or 0.0 for t in m.total_bytes), default=0.0), lambda m: m.mountpoint
    )
    traces: list[go.Scatter] = []
    for index, mount in enumerate(shown):
        size = max((t or 0.0 for t in mount.total_bytes), default=0.0)
        divisor, unit = byte_scale(size)
        hover = f"%{{y:.1f}}% of {size / divisor:.1f} {unit}"
        traces += gap_lines(
            mount.time_ms,
            disks.step_ms,
            tz_offset_min,
            [(mount.mountpoint, _percent(mount.used_bytes, mount.total_bytes))],
            hover,
            first_colour=index,
        )
    return history_figure(traces, disks, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")


def inodes_figure(disks: DiskSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Inodes used per mount, as % of the inodes it has (file systems without inodes are left out)."""
    with_inodes = [m for m in disks.mounts if any(m.inodes_total)]
    if not with_inodes:
        return empty_figure("No inode counts in this range")
    shown = _busiest(
        with_inodes, lambda m: max((t or 0.0 for t in m.inodes_total), default=0.0), lambda m: m.mountpoint
    )
    traces: list[go.Scatter] = []
    for index, mount in enumerate(shown):
        traces += gap_lines(
            mount.time_ms,
            disks.step_ms,
            tz_offset_min,
            [(mount.mountpoint, _percent(mount.inodes_used, mount.inodes_total))],
            "%{y:.1f}% of inodes",
            first_colour=index,
        )
    return history_figure(traces, disks, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")


def temperature_figure(temps: TemperatureSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Average °C per sensor (the hottest sensors when there are many)."""
    if not temps.sensors:
        return empty_figure("No temperature sensors reported")
    shown = _busiest(
        temps.sensors, lambda s: max((v or 0.0 for v in s.celsius_max), default=0.0), lambda s: s.sensor
    )
    traces: list[go.Scatter] = []
    for index, sensor in enumerate(shown):
        traces += gap_lines(
            sensor.time_ms,
            temps.step_ms,
            tz_offset_min,
            [(sensor.sensor, sensor.celsius)],
            "%{y:.1f} °C",
            index,
        )
    figure = history_figure(traces, temps, tz_offset_min, uirevision, ticksuffix=" °C")
    figure.update_yaxes(rangemode="normal")
    return figure
