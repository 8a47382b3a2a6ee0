"""Every figure of one history view, from one :class:`HistoryData`. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from common.api_models import CustomMetricSeries, CustomSeries, SeriesWindow, StatusEventOut
from dashboards.history import device_figures as dev
from dashboards.history import host_figures as host
from dashboards.history import workload_figures as work
from dashboards.history.chart import empty_figure
from dashboards.history.fetch import HistoryData
from dashboards.history.markers import add_status_markers

__all__ = ["custom_chart", "fixed_charts"]

Builder = Callable[[HistoryData, int, str], go.Figure]


def _unavailable(what: str) -> go.Figure:
    return empty_figure(f"{what} could not be read")


def _or_unavailable(value: Any, what: str, build: Callable[[Any], go.Figure]) -> go.Figure:
    return _unavailable(what) if value is None else build(value)


# Graph id -> (figure builder, whether the family has data to show).
BUILDERS: dict[str, tuple[Builder, Callable[[HistoryData], bool]]] = {
    "vps-cpu": (lambda d, tz, rev: host.cpu_figure(d.host, tz, rev), lambda d: True),
    "vps-cores": (
        lambda d, tz, rev: _or_unavailable(d.cores, "Per-core CPU", lambda s: host.cores_figure(s, tz, rev)),
        lambda d: d.cores is None or bool(d.cores.cores),
    ),
    "vps-load": (lambda d, tz, rev: host.load_figure(d.host, tz, rev), lambda d: True),
    "vps-memory": (lambda d, tz, rev: host.memory_figure(d.host, tz, rev), lambda d: True),
    "vps-network": (
        lambda d, tz, rev: _or_unavailable(d.network, "Network", lambda s: dev.network_figure(s, tz, rev)),
        lambda d: True,
    ),
    "vps-connections": (lambda d, tz, rev: host.connections_figure(d.host, tz, rev), lambda d: True),
    "vps-diskio": (
        lambda d, tz, rev: _or_unavailable(
            d.disk_io, "Disk I/O", lambda s: dev.disk_io_bytes_figure(s, tz, rev)
        ),
        lambda d: d.disk_io is None or bool(d.disk_io.devices),
    ),
    "vps-diskio-ops": (
        lambda d, tz, rev: _or_unavailable(
            d.disk_io, "Disk I/O", lambda s: dev.disk_io_ops_figure(s, tz, rev)
        ),
        lambda d: d.disk_io is None or bool(d.disk_io.devices),
    ),
    "vps-disk": (
        lambda d, tz, rev: _or_unavailable(
            d.disks, "Disk usage", lambda s: dev.disk_usage_figure(s, tz, rev)
        ),
        lambda d: True,
    ),
    "vps-inodes": (
        lambda d, tz, rev: _or_unavailable(d.disks, "Inodes", lambda s: dev.inodes_figure(s, tz, rev)),
        lambda d: d.disks is None or any(any(m.inodes_total) for m in d.disks.mounts),
    ),
    "vps-processes": (lambda d, tz, rev: host.processes_figure(d.host, tz, rev), lambda d: True),
    "vps-temperatures": (
        lambda d, tz, rev: _or_unavailable(
            d.temperatures, "Temperatures", lambda s: dev.temperature_figure(s, tz, rev)
        ),
        lambda d: d.temperatures is None or bool(d.temperatures.sensors),
    ),
    "vps-containers-cpu": (
        lambda d, tz, rev: _or_unavailable(
            d.containers, "Containers", lambda s: work.container_cpu_figure(s, tz, rev)
        ),
        lambda d: d.containers is None or bool(d.containers.containers),
    ),
    "vps-containers-memory": (
        lambda d, tz, rev: _or_unavailable(
            d.containers, "Containers", lambda s: work.container_memory_figure(s, tz, rev)
        ),
        lambda d: d.containers is None or bool(d.containers.containers),
    ),
}


def fixed_charts(
    data: HistoryData, graph_ids: Sequence[str], tz_offset_min: int, uirevision: str
) -> list[tuple[go.Figure, bool]]:
    """``(figure, shown)`` per graph id, in order, each marked with the online/offline events."""
    window: SeriesWindow = data.host
    out = []
    for index, graph_id in enumerate(graph_ids):
        build, has_data = BUILDERS[graph_id]
        figure = build(data, tz_offset_min, uirevision)
        if figure.data:  # an empty chart's message stays unmarked
            add_status_markers(
                figure, data.events, window.from_ms, window.to_ms, tz_offset_min, label=index == 0
            )
        out.append((figure, has_data(data)))
    return out


def custom_chart(
    window: CustomSeries,
    metrics: Sequence[CustomMetricSeries],
    selected: Sequence[str],
    events: Sequence[StatusEventOut],
    tz_offset_min: int,
    uirevision: str,
) -> go.Figure:
    """One custom metric's chart, marked like the fixed ones."""
    figure = work.custom_figure(window, metrics, selected, tz_offset_min, uirevision)
    if figure.data:
        add_status_markers(figure, events, window.from_ms, window.to_ms, tz_offset_min)
    return figure


def selections(ids: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> dict[str, list[str]]:
    """The label sets picked in each custom metric's picker, by metric name."""
    return {
        str(i["name"]): [str(v) for v in value]
        for i, value in zip(ids, values, strict=True)
        if isinstance(value, list)
    }
