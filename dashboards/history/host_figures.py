"""Host-wide charts: CPU (total, breakdown, per core), load, memory and swap,
connections, processes. Pure: API series in, ``go.Figure`` out."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from common.api_models import CpuCoresSeries, HostSeries
from dashboards.figures import shift_times
from dashboards.history.chart import empty_figure, gap_lines, gap_step, history_figure, scaled
from dashboards.units import byte_scale

__all__ = [
    "HEATMAP_FROM_CORES",
    "connections_figure",
    "cores_figure",
    "cpu_figure",
    "load_figure",
    "memory_figure",
    "processes_figure",
]

# Up to this many cores read well as lines; more become a heatmap (one row per core).
HEATMAP_FROM_CORES = 5
# Perceptually even and readable on dark and light backgrounds.
HEATMAP_COLOURS = "Viridis"


def cpu_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Busy % and its parts: user, system, iowait, steal."""
    if not host.time_ms:
        return empty_figure("No CPU samples in this range")
    lines = gap_lines(
        host.time_ms,
        host.step_ms,
        tz_offset_min,
        [
            ("total", host.cpu_percent),
            ("user", host.cpu_user_percent),
            ("system", host.cpu_system_percent),
            ("iowait", host.cpu_iowait_percent),
            ("steal", host.cpu_steal_percent),
        ],
        "%{y:.1f}%",
    )
    lines[0].update(fill="tozeroy", fillcolor="rgba(56, 189, 248, 0.15)")
    return history_figure(lines, host, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")


def cores_figure(cores: CpuCoresSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Busy % per logical CPU: lines for a few cores, a heatmap (time by core) for many."""
    if not cores.time_ms or not cores.cores:
        return empty_figure("No per-core samples in this range (kept at raw resolution only)")
    names = [f"cpu{i}" for i in range(len(cores.cores))]
    if len(cores.cores) < HEATMAP_FROM_CORES:
        lines = gap_lines(
            cores.time_ms,
            cores.step_ms,
            tz_offset_min,
            list(zip(names, cores.cores, strict=True)),
            "%{y:.1f}%",
        )
        return history_figure(lines, cores, tz_offset_min, uirevision, range=[0, 100], ticksuffix="%")
    times, rows = _heatmap_gaps(cores.time_ms, gap_step(cores.time_ms, cores.step_ms), cores.cores)
    heatmap = go.Heatmap(
        x=shift_times(times, tz_offset_min),
        y=names,
        z=rows,
        zmin=0,
        zmax=100,
        colorscale=HEATMAP_COLOURS,
        colorbar={"ticksuffix": "%", "thickness": 10, "outlinewidth": 0},
        hoverongaps=False,
        hovertemplate="%{y}: %{z:.1f}%<extra></extra>",
        name="per core",
    )
    figure = history_figure([heatmap], cores, tz_offset_min, uirevision, autorange="reversed")
    figure.update_yaxes(rangemode="normal", showgrid=False)
    return figure


def _heatmap_gaps(
    times: Sequence[int], step_ms: int, rows: Sequence[Sequence[float | None]]
) -> tuple[list[int], list[list[float | None]]]:
    """Like ``with_gaps``, with an empty column at both edges of a silence: a heatmap cell
    reaches halfway to its neighbour, so one empty column would leave half the gap painted."""
    out_times: list[int] = []
    out_rows: list[list[float | None]] = [[] for _ in rows]
    for i, t in enumerate(times):
        if i and t - times[i - 1] > 2 * step_ms:
            out_times += [times[i - 1] + step_ms, t - step_ms]
            for row in out_rows:
                row += [None, None]
        out_times.append(t)
        for row, values in zip(out_rows, rows, strict=True):
            row.append(values[i])
    return out_times, out_rows


def load_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Load average over 1, 5 and 15 minutes."""
    if not host.time_ms:
        return empty_figure("No load samples in this range")
    lines = gap_lines(
        host.time_ms,
        host.step_ms,
        tz_offset_min,
        [("1 min", host.load_1), ("5 min", host.load_5), ("15 min", host.load_15)],
        "%{y:.2f}",
    )
    return history_figure(lines, host, tz_offset_min, uirevision)


def memory_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Memory used and cached against the total; swap used against its total. Binary units."""
    if not host.time_ms:
        return empty_figure("No memory samples in this range")
    largest = max(
        (v for v in (*host.memory_total_bytes, *host.swap_total_bytes) if v is not None), default=0.0
    )
    divisor, unit = byte_scale(largest)
    named = [
        ("used", scaled(host.memory_used_bytes, divisor)),
        ("cached", scaled(host.memory_cached_bytes, divisor)),
        ("total", scaled(host.memory_total_bytes, divisor)),
        ("swap used", scaled(host.swap_used_bytes, divisor)),
        ("swap total", scaled(host.swap_total_bytes, divisor)),
    ]
    if not any(host.swap_total_bytes):
        named = named[:3]  # no swap configured: two flat zero lines say nothing
    lines = gap_lines(host.time_ms, host.step_ms, tz_offset_min, named, f"%{{y:.2f}} {unit}", first_colour=1)
    lines[0].update(fill="tozeroy", fillcolor="rgba(167, 139, 250, 0.15)")
    for line in lines:
        if line.name in ("total", "swap total"):
            line.update(line={"dash": "dot", "width": 1})
    return history_figure(lines, host, tz_offset_min, uirevision, ticksuffix=f" {unit}")


def connections_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """Open TCP connections and UDP sockets."""
    if not host.time_ms:
        return empty_figure("No connection samples in this range")
    lines = gap_lines(
        host.time_ms,
        host.step_ms,
        tz_offset_min,
        [("TCP", host.tcp_connections), ("UDP", host.udp_connections)],
        "%{y:.0f}",
    )
    return history_figure(lines, host, tz_offset_min, uirevision)


def processes_figure(host: HostSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """The number of processes."""
    if not host.time_ms:
        return empty_figure("No process samples in this range")
    lines = gap_lines(
        host.time_ms, host.step_ms, tz_offset_min, [("processes", host.process_count)], "%{y:.0f}", 2
    )
    return history_figure(lines, host, tz_offset_min, uirevision)
