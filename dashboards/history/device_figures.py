"""Per-device charts: network interfaces (bits/s), disk I/O (bytes/s and ops/s),
mounts (space and inodes), temperature sensors. Pure: API series in, figures out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import plotly.graph_objects as go

from common.api_models import DiskIoSeries, DiskSeries, NetworkSeries, TemperatureSeries
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
T = TypeVar("T")


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


def network_figure(network: NetworkSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Receive (↓ solid) and transmit (↑ dotted) per interface, in bits per second."""
    if not network.interfaces:
        return empty_figure("No network samples in this range")
    shown = _busiest(
        network.interfaces,
        lambda i: _volume(i.rx_bytes_per_second) + _volume(i.tx_bytes_per_second),
        lambda i: i.interface,
    )
    divisor, unit = bit_rate_scale(
        8 * _peak([c for i in shown for c in (i.rx_bytes_per_second, i.tx_bytes_per_second)])
    )
    series = [
        (i.time_ms, scaled(i.rx_bytes_per_second, divisor / 8), scaled(i.tx_bytes_per_second, divisor / 8))
        for i in shown
    ]
    traces = _pairs(
        [i.interface for i in shown], series, network.step_ms, tz_offset_min, f"%{{y:.2f}} {unit}"
    )
    return history_figure(traces, network, tz_offset_min, uirevision, ticksuffix=f" {unit}")


def disk_io_bytes_figure(io: DiskIoSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Read (↓ solid) and write (↑ dotted) throughput per block device, in binary bytes/s."""
    if not io.devices:
        return empty_figure("No disk I/O samples in this range")
    shown = _busiest(
        io.devices,
        lambda d: _volume(d.read_bytes_per_second) + _volume(d.write_bytes_per_second),
        lambda d: d.device,
    )
    divisor, unit = byte_scale(
        _peak([c for d in shown for c in (d.read_bytes_per_second, d.write_bytes_per_second)])
    )
    series = [
        (d.time_ms, scaled(d.read_bytes_per_second, divisor), scaled(d.write_bytes_per_second, divisor))
        for d in shown
    ]
    traces = _pairs([d.device for d in shown], series, io.step_ms, tz_offset_min, f"%{{y:.2f}} {unit}/s")
    return history_figure(traces, io, tz_offset_min, uirevision, ticksuffix=f" {unit}/s")


def disk_io_ops_figure(io: DiskIoSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Read (↓ solid) and write (↑ dotted) operations per second per block device."""
    if not io.devices:
        return empty_figure("No disk I/O samples in this range")
    shown = _busiest(
        io.devices,
        lambda d: _volume(d.read_ops_per_second) + _volume(d.write_ops_per_second),
        lambda d: d.device,
    )
    divisor, prefix = si_scale(
        _peak([c for d in shown for c in (d.read_ops_per_second, d.write_ops_per_second)])
    )
    unit = f"{prefix}ops/s" if prefix else "ops/s"
    series = [
        (d.time_ms, scaled(d.read_ops_per_second, divisor), scaled(d.write_ops_per_second, divisor))
        for d in shown
    ]
    traces = _pairs([d.device for d in shown], series, io.step_ms, tz_offset_min, f"%{{y:.1f}} {unit}")
    return history_figure(traces, io, tz_offset_min, uirevision, ticksuffix=f" {unit}")


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
