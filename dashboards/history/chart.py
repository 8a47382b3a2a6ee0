"""What every history chart shares: the window as x range, the shared look, gap-aware lines.

Pure. Times are UTC epoch ms, shifted by the viewer's UTC offset so the axes read
in local time; every chart of one view gets the same x range, so they line up.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from statistics import median
from typing import Any

import plotly.graph_objects as go

from common.api_models import SeriesWindow
from dashboards.figures import PALETTE, chart_layout, empty_figure, line_trace, shift_times, with_gaps

__all__ = [
    "CHART_HEIGHT_PX",
    "Values",
    "colour",
    "empty_figure",
    "gap_lines",
    "gap_step",
    "history_figure",
    "scaled",
]

CHART_HEIGHT_PX = 240
Values = Sequence[float | None]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def scaled(values: Values, divisor: float) -> list[float | None]:
    return [None if v is None else v / divisor for v in values]


def gap_step(times: Sequence[int], step_ms: int) -> int:
    """The spacing a gap is measured against: the bucket width, or the agent's own sampling
    interval when buckets are finer than it (5 s samples in 1 s buckets are not gaps)."""
    if len(times) < 3:
        return step_ms
    return max(step_ms, round(median(b - a for a, b in itertools.pairwise(times))))


def gap_lines(
    times: Sequence[int],
    step_ms: int,
    tz_offset_min: int,
    named: Sequence[tuple[str, Values]],
    hover: str,
    first_colour: int = 0,
    **extra: Any,
) -> list[go.Scatter]:
    """One line per ``(name, values)``, broken (a None point) wherever samples stop."""
    gapped_times, columns = with_gaps(times, gap_step(times, step_ms), *(values for _, values in named))
    x = shift_times(gapped_times, tz_offset_min)
    return [
        line_trace(name, x, column, colour(first_colour + i), hovertemplate=hover, connectgaps=False, **extra)
        for i, ((name, _), column) in enumerate(zip(named, columns, strict=True))
    ]


def history_figure(
    traces: Sequence[go.BaseTraceType],
    window: SeriesWindow,
    tz_offset_min: int,
    uirevision: str,
    **yaxis: Any,
) -> go.Figure:
    """``traces`` over the whole window; ``yaxis`` adds to the shared y axis."""
    figure = go.Figure(list(traces))
    x_range = shift_times([window.from_ms, window.to_ms], tz_offset_min)
    figure.update_layout(
        chart_layout(uirevision, xaxis={"range": x_range}, yaxis=yaxis, height=CHART_HEIGHT_PX)
    )
    return figure
