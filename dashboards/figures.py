"""The shared look of every chart (dashboards/history, the live charts) and its pieces.

Times arrive as UTC epoch milliseconds and are shifted by the browser's UTC
offset, so axes read in the viewer's local time. A silence longer than two
buckets is drawn as a gap, so an outage is visible instead of bridged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

__all__ = [
    "PALETTE",
    "chart_layout",
    "empty_figure",
    "line_trace",
    "live_layout",
    "shift_times",
    "with_gaps",
]

PALETTE = ("#38bdf8", "#a78bfa", "#34d399", "#fbbf24", "#f472b6", "#60a5fa", "#fb923c")
_TEXT, _MUTED, _GRID = "#cbd5e1", "#64748b", "rgba(148, 163, 184, 0.12)"

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


def _blank(uirevision: str, message: str, **yaxis: Any) -> dict[str, Any]:
    """A layout without axes that says why the chart is blank: a date axis with no
    points would show January to December 2000."""
    return _layout(
        uirevision,
        xaxis={"visible": False},
        yaxis={**yaxis, "visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "font": {"color": _MUTED, "size": 13},
                # Centred on the plot whatever the (hidden) axes' ranges are.
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    figure = go.Figure()
    figure.update_layout(_blank("empty", message))
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


def live_layout(uirevision: str, waiting: str, **yaxis: Any) -> dict[str, Any]:
    """The shared look for a chart that grows in place (extendData): x autoranges.
    It opens blank, saying ``waiting``; the feed shows its axes with the first points
    (assets/live_feed.js)."""
    return _blank(uirevision, waiting, **yaxis)
