"""Chart figures from API series. Pure: series in, ``go.Figure`` out.

Times arrive as UTC epoch milliseconds and are shifted by the browser's UTC
offset, so axes read in the viewer's local time. A silence longer than two
buckets is drawn as a gap, so an outage is visible instead of bridged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from common.api_models import DiskSeries, HostSeries, NetworkSeries, SeriesWindow
from dashboards.units import byte_scale

__all__ = [
    "PALETTE",
    "chart_layout",
    "cpu_figure",
    "disk_figure",
    "empty_figure",
    "line_trace",
    "live_layout",
    "memory_figure",
    "network_figure",
    "shift_times",
    "with_gaps",
]

PALETTE = ("#38bdf8", "#a78bfa", "#34d399", "#fbbf24", "#f472b6", "#60a5fa", "#fb923c")
_TEXT, _MUTED, _GRID = "#cbd5e1", "#64748b", "rgba(148, 163, 184, 0.12)"
MAX_INTERFACES = 4
MAX_MOUNTS = 6

Values = Sequence[float | None]


def with_gaps(
    times: Sequence[int], step_ms: int, *columns: Values
) -> tuple[list[int], list[list[float | None]]]:
    """``times`` and ``columns`` with a None row wherever samples stop for over two steps."""
    out_times: list[int] = []
    out_columns: list[list[float | None]] = [[] for _ in columns]
    for i, t in enumerate(times):
        if i and t - times[i - 1] > 2 * step_ms:
            out_times.append(times[i - 1] + step_ms)
            for column in out_columns:
                column.append(None)
        out_times.append(t)
        for column, values in zip(out_columns, columns, strict=True):
            column.append(values[i])
    return out_times, out_columns


def _layout(
    uirevision: str,
    xaxis: dict[str, Any] | None = None,
    yaxis: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The shared look; ``xaxis`` and ``yaxis`` add to the base axes."""
    axis = {"gridcolor": _GRID, "linecolor": _GRID, "zeroline": False}
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {
            "family": "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 12,
            "color": _TEXT,
        },
        "margin": {"l": 56, "r": 12, "t": 10, "b": 30},
        "height": 250,
        "hovermode": "x unified",
        "hoverlabel": {"bgcolor": "#0f172a", "bordercolor": "#334155", "font": {"color": _TEXT}},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": {**axis, "type": "date", **(xaxis or {})},
        "yaxis": {**axis, "rangemode": "tozero", **(yaxis or {})},
        # Refreshes keep the user's zoom until the range changes.
        "uirevision": uirevision,
    }
    layout.update(overrides)
    return layout


def _shift(times: Sequence[int], tz_offset_min: int) -> list[int]:
    return [t + tz_offset_min * 60_000 for t in times]


def _scaled(values: Values, divisor: float) -> list[float | None]:
    return [None if v is None else v / divisor for v in values]


def _figure(
    traces: list[go.Scatter], window: SeriesWindow, tz_offset_min: int, uirevision: str, **yaxis: Any
) -> go.Figure:
    figure = go.Figure(traces)
    # The whole requested range, like Grafana: missing history shows as empty space.
    x_range = _shift([window.from_ms, window.to_ms], tz_offset_min)
    figure.update_layout(_layout(uirevision, xaxis={"range": x_range}, yaxis=yaxis))
    return figure


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    figure = go.Figure()
    figure.update_layout(
        _layout(
            "empty",
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[{"text": message, "showarrow": False, "font": {"color": _MUTED, "size": 13}}],
        )
    )
    return figure


def _line(
    name: str, x: list[int], y: Values, color: str, style: dict[str, Any] | None = None, **extra: Any
) -> go.Scatter:
    line = {"color": color, "width": 1.6, **(style or {})}
    return go.Scatter(name=name, x=x, y=list(y), mode="lines", line=line, **extra)


# Public names of the shared pieces, for figure modules beyond this one (dashboards/history).
chart_layout = _layout
shift_times = _shift
line_trace = _line


def cpu_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """CPU busy %, with iowait and steal, on a 0-100 axis."""
    if not host.time_ms:
        return empty_figure("No CPU samples in this range")
    times, (total, iowait, steal) = with_gaps(
        host.time_ms, host.step_ms, host.cpu_percent, host.cpu_iowait_percent, host.cpu_steal_percent
    )
    x = _shift(times, tz_offset_min)
    hover = "%{y:.1f}%"
    traces = [
        _line(
            "CPU",
            x,
            total,
            PALETTE[0],
            fill="tozeroy",
            fillcolor="rgba(56, 189, 248, 0.15)",
            hovertemplate=hover,
        ),
        _line("iowait", x, iowait, PALETTE[3], hovertemplate=hover),
        _line("steal", x, steal, "#f87171", hovertemplate=hover),
    ]
    return _figure(traces, host, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")


def memory_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Memory used and cached against the total, and swap used, in binary units."""
    if not host.time_ms:
        return empty_figure("No memory samples in this range")
    times, (used, cached, total, swap) = with_gaps(
        host.time_ms,
        host.step_ms,
        host.memory_used_bytes,
        host.memory_cached_bytes,
        host.memory_total_bytes,
        host.swap_used_bytes,
    )
    divisor, unit = byte_scale(max((v for v in total if v is not None), default=0.0))
    x = _shift(times, tz_offset_min)
    hover = f"%{{y:.2f}} {unit}"
    traces = [
        _line(
            "used",
            x,
            _scaled(used, divisor),
            PALETTE[1],
            fill="tozeroy",
            fillcolor="rgba(167, 139, 250, 0.15)",
            hovertemplate=hover,
        ),
        _line("cached", x, _scaled(cached, divisor), "#64748b", hovertemplate=hover),
        _line(
            "total", x, _scaled(total, divisor), "#94a3b8", {"width": 1, "dash": "dot"}, hovertemplate=hover
        ),
    ]
    if any(v for v in swap):
        traces.append(_line("swap used", x, _scaled(swap, divisor), "#f87171", hovertemplate=hover))
    return _figure(traces, host, tz_offset_min, uirevision, ticksuffix=f" {unit}")


def network_figure(network: NetworkSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Receive (solid) and transmit (dotted) rates of the busiest interfaces."""
    if not network.interfaces:
        return empty_figure("No network samples in this range")

    def volume(values: Values) -> float:
        return sum(v for v in values if v is not None)

    busiest = sorted(
        network.interfaces,
        key=lambda i: volume(i.rx_bytes_per_second) + volume(i.tx_bytes_per_second),
        reverse=True,
    )[:MAX_INTERFACES]
    peak = max(
        (v for i in busiest for v in (*i.rx_bytes_per_second, *i.tx_bytes_per_second) if v is not None),
        default=0.0,
    )
    divisor, unit = byte_scale(peak)
    hover = f"%{{y:.2f}} {unit}/s"
    traces: list[go.Scatter] = []
    for index, interface in enumerate(sorted(busiest, key=lambda i: i.interface)):
        color = PALETTE[index % len(PALETTE)]
        times, (rx, tx) = with_gaps(
            interface.time_ms, network.step_ms, interface.rx_bytes_per_second, interface.tx_bytes_per_second
        )
        x = _shift(times, tz_offset_min)
        name = interface.interface
        traces.append(_line(f"{name} ↓", x, _scaled(rx, divisor), color, hovertemplate=hover))
        traces.append(
            _line(
                f"{name} ↑",
                x,
                _scaled(tx, divisor),
                color,
                {"width": 1.4, "dash": "dot"},
                hovertemplate=hover,
            )
        )
    return _figure(traces, network, tz_offset_min, uirevision, ticksuffix=f" {unit}/s")


def disk_figure(disks: DiskSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Space used per mount, as a percentage of its size."""
    if not disks.mounts:
        return empty_figure("No disk samples in this range")
    largest = sorted(
        disks.mounts, key=lambda m: max((t or 0.0 for t in m.total_bytes), default=0.0), reverse=True
    )
    traces: list[go.Scatter] = []
    for index, mount in enumerate(sorted(largest[:MAX_MOUNTS], key=lambda m: m.mountpoint)):
        times, (used, total) = with_gaps(mount.time_ms, disks.step_ms, mount.used_bytes, mount.total_bytes)
        used_percent = [
            None if u is None or not t else 100.0 * u / t for u, t in zip(used, total, strict=True)
        ]
        traces.append(
            _line(
                mount.mountpoint,
                _shift(times, tz_offset_min),
                used_percent,
                PALETTE[index % len(PALETTE)],
                hovertemplate="%{y:.1f}%",
            )
        )
    return _figure(traces, disks, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")


def live_layout(uirevision: str, **yaxis: Any) -> dict[str, Any]:
    """The shared look for a chart that grows in place (extendData): x autoranges."""
    return _layout(uirevision, yaxis=yaxis)
