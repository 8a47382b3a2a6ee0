"""Alert events and disk-full projections drawn over the VPS charts. Pure: a figure
and API bodies in, the same figure (changed) out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import plotly.graph_objects as go

from common.api_models.alerts import DiskForecast, EventOut

__all__ = ["add_disk_projection", "add_event_markers"]

_FIRING, _RESOLVED = "rgba(248, 113, 113, 0.14)", "rgba(148, 163, 184, 0.10)"
_PROJECTION = "#f87171"


def _local_ms(moment: datetime, tz_offset_min: int) -> int:
    return int(moment.timestamp() * 1000) + tz_offset_min * 60_000


def add_event_markers(
    figure: go.Figure, events: Sequence[EventOut], now: datetime, tz_offset_min: int = 0
) -> go.Figure:
    """A shaded band per event from start to resolve (or now), named in the legend area."""
    for event in events:
        end = event.resolved_at or now
        figure.add_vrect(
            x0=_local_ms(event.started_at, tz_offset_min),
            x1=_local_ms(end, tz_offset_min),
            fillcolor=_RESOLVED if event.resolved_at else _FIRING,
            line_width=0,
            layer="below",
            annotation_text=f"⚠ {event.rule_name}",
            annotation_position="top left",
            annotation_font={"size": 10, "color": "#fca5a5"},
            name=f"alert-{event.id}",
        )
    return figure


def add_disk_projection(
    figure: go.Figure, forecasts: Sequence[DiskForecast], now: datetime, range_ms: int, tz_offset_min: int = 0
) -> go.Figure:
    """For each mount that is filling, a dotted line from now towards 100 %, drawn over
    a quarter of the range ahead, labelled with when it fills."""
    ahead = timedelta(milliseconds=range_ms // 4)
    drawn = False
    for forecast in forecasts:
        if forecast.hours_until_full is None or forecast.full_at is None or forecast.total_bytes <= 0:
            continue
        start_percent = 100.0 * forecast.used_bytes / forecast.total_bytes
        horizon = min(forecast.full_at, now + ahead)
        span_s = max((forecast.full_at - now).total_seconds(), 1.0)
        end_percent = start_percent + (100.0 - start_percent) * (horizon - now).total_seconds() / span_s
        figure.add_trace(
            go.Scatter(
                x=[_local_ms(now, tz_offset_min), _local_ms(horizon, tz_offset_min)],
                y=[start_percent, end_percent],
                mode="lines",
                line={"color": _PROJECTION, "dash": "dot", "width": 1.5},
                name=f"{forecast.mountpoint} full in {forecast.hours_until_full:.1f} h",
                hovertemplate=f"{forecast.mountpoint}: full {forecast.full_at:%Y-%m-%d %H:%M} UTC<extra></extra>",
            )
        )
        drawn = True
    if drawn:
        x_range = list(figure.layout.xaxis.range or [])
        if len(x_range) == 2:
            figure.update_xaxes(range=[x_range[0], _local_ms(now + ahead, tz_offset_min)])
    return figure
