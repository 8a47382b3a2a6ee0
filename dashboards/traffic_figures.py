"""Monthly traffic figures. Pure: API bodies in, ``go.Figure`` out."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from common.api_models.alerts import TrafficFleetOut, TrafficVpsOut
from dashboards.figures import PALETTE
from dashboards.units import byte_scale

__all__ = ["fleet_traffic_figure", "vps_traffic_figure"]

_TEXT, _GRID = "#cbd5e1", "rgba(148, 163, 184, 0.12)"


def _layout(unit: str, **overrides: Any) -> dict[str, Any]:
    axis = {"gridcolor": _GRID, "linecolor": _GRID, "zeroline": False}
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "Inter, system-ui, sans-serif", "size": 12, "color": _TEXT},
        "margin": {"l": 56, "r": 12, "t": 10, "b": 40},
        "height": 280,
        "barmode": "overlay",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": {**axis, "type": "category"},
        "yaxis": {**axis, "rangemode": "tozero", "title": {"text": unit}},
    }
    layout.update(overrides)
    return layout


def vps_traffic_figure(traffic: TrafficVpsOut) -> go.Figure:
    """Used bytes per cycle (past and current), the current cycle's projection and the quota."""
    cycles = [*traffic.past, traffic.current]
    largest = max(
        [c.used_bytes for c in cycles] + [traffic.projected_bytes, traffic.quota.quota_bytes or 0, 1]
    )
    divisor, unit = byte_scale(largest)
    labels = [f"{c.start:%Y-%m-%d}" for c in cycles]
    figure = go.Figure(
        [
            go.Bar(name="projected", x=labels[-1:], y=[traffic.projected_bytes / divisor],
                   marker={"color": "rgba(56, 189, 248, 0.25)"}),
            go.Bar(name="used", x=labels, y=[c.used_bytes / divisor for c in cycles], marker={"color": PALETTE[0]}),
        ]
    )  # fmt: skip
    if traffic.quota.quota_bytes:
        figure.add_hline(y=traffic.quota.quota_bytes / divisor, line={"color": "#f87171", "dash": "dot"},
                         annotation_text="quota", annotation_font_color="#f87171")  # fmt: skip
    # Oldest cycle first, whatever order the traces name them in.
    figure.update_layout(_layout(unit))
    figure.update_xaxes(categoryorder="array", categoryarray=labels)
    return figure


def fleet_traffic_figure(fleet: TrafficFleetOut) -> go.Figure:
    """This cycle's use per VPS, with the projection behind it."""
    names = [v.name for v in fleet.vps]
    largest = max([v.projected_bytes for v in fleet.vps] + [v.current.used_bytes for v in fleet.vps] + [1])
    divisor, unit = byte_scale(largest)
    figure = go.Figure(
        [
            go.Bar(name="projected", x=names, y=[v.projected_bytes / divisor for v in fleet.vps],
                   marker={"color": "rgba(56, 189, 248, 0.25)"}),
            go.Bar(name="used", x=names, y=[v.current.used_bytes / divisor for v in fleet.vps],
                   marker={"color": PALETTE[0]}),
        ]
    )  # fmt: skip
    figure.update_layout(_layout(unit))
    figure.update_xaxes(categoryorder="array", categoryarray=names)
    return figure
