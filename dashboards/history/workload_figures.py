"""Charts of what runs on the host: containers, and custom metrics (one chart per
metric name, one line per label set). Pure: API series in, figures out."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from common.api_models import ContainerSeries, ContainersSeries, CustomMetricSeries, CustomSeries
from dashboards.history.chart import empty_figure, gap_lines, history_figure, scaled
from dashboards.units import byte_scale, si_scale

__all__ = [
    "MAX_CONTAINERS",
    "MAX_LABEL_SETS",
    "container_cpu_figure",
    "container_memory_figure",
    "custom_by_name",
    "custom_figure",
    "default_label_sets",
    "label_set",
]

MAX_CONTAINERS = 8
# Lines drawn by default per custom metric; the rest are a click away in its label picker.
MAX_LABEL_SETS = 6


def _name(container: ContainerSeries) -> str:
    return container.name or container.container_id[:12]


def _top(containers: Sequence[ContainerSeries], weight: str) -> list[ContainerSeries]:
    def total(c: ContainerSeries) -> float:
        return float(sum(v for v in getattr(c, weight) if v is not None))

    return sorted(sorted(containers, key=total, reverse=True)[:MAX_CONTAINERS], key=_name)


def container_cpu_figure(series: ContainersSeries, tz_offset_min: int = 0, uirevision: str = "") -> go.Figure:
    """CPU per container, in % of one core (so 250 % is two and a half cores)."""
    if not series.containers:
        return empty_figure("No container samples in this range")
    shown = _top(series.containers, "cpu_percent")
    traces: list[go.Scatter] = []
    for index, c in enumerate(shown):
        traces += gap_lines(
            c.time_ms, series.step_ms, tz_offset_min, [(_name(c), c.cpu_percent)], "%{y:.1f}%", index
        )
    return history_figure(traces, series, tz_offset_min, uirevision, ticksuffix="%")


def container_memory_figure(
    series: ContainersSeries, tz_offset_min: int = 0, uirevision: str = ""
) -> go.Figure:
    """Memory used per container, in binary units."""
    if not series.containers:
        return empty_figure("No container samples in this range")
    shown = _top(series.containers, "memory_usage_bytes")
    peak = max((v for c in shown for v in c.memory_usage_bytes if v is not None), default=0.0)
    divisor, unit = byte_scale(peak)
    traces: list[go.Scatter] = []
    for index, c in enumerate(shown):
        traces += gap_lines(
            c.time_ms,
            series.step_ms,
            tz_offset_min,
            [(_name(c), scaled(c.memory_usage_bytes, divisor))],
            f"%{{y:.2f}} {unit}",
            index,
        )
    return history_figure(traces, series, tz_offset_min, uirevision, ticksuffix=f" {unit}")


def label_set(labels: dict[str, str]) -> str:
    """A label set as one stable string: ``device="sda", mode="read"``; ``(no labels)`` when empty."""
    if not labels:
        return "(no labels)"
    return ", ".join(f'{key}="{labels[key]}"' for key in sorted(labels))


def custom_by_name(series: CustomSeries) -> dict[str, list[CustomMetricSeries]]:
    """The series of each metric name, names in order."""
    grouped: dict[str, list[CustomMetricSeries]] = {}
    for metric in series.metrics:
        grouped.setdefault(metric.name, []).append(metric)
    return dict(sorted(grouped.items()))


def default_label_sets(metrics: Sequence[CustomMetricSeries]) -> list[str]:
    """The label sets drawn before the user picks: the first MAX_LABEL_SETS in order."""
    return sorted(label_set(m.labels) for m in metrics)[:MAX_LABEL_SETS]


def custom_figure(
    window: CustomSeries,
    metrics: Sequence[CustomMetricSeries],
    selected: Sequence[str],
    tz_offset_min: int = 0,
    uirevision: str = "",
) -> go.Figure:
    """One custom metric: a line per selected label set. Units are the exporter's own, so
    values keep their scale and only get a decimal prefix (k, M, G)."""
    chosen = sorted(
        (m for m in metrics if label_set(m.labels) in selected), key=lambda m: label_set(m.labels)
    )
    if not chosen:
        return empty_figure("Pick a label set to draw")
    peak = max((abs(v) for m in chosen for v in m.value if v is not None), default=0.0)
    divisor, prefix = si_scale(peak)
    traces: list[go.Scatter] = []
    for index, metric in enumerate(chosen):
        traces += gap_lines(
            metric.time_ms,
            window.step_ms,
            tz_offset_min,
            [(label_set(metric.labels), scaled(metric.value, divisor))],
            f"%{{y:.3~g}}{prefix}",
            index,
        )
    figure = history_figure(traces, window, tz_offset_min, uirevision, ticksuffix=prefix)
    figure.update_yaxes(rangemode="normal")
    return figure
