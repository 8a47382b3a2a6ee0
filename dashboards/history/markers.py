"""Online/offline events drawn on the history charts. Pure.

Offline stretches are shaded bands; each transition inside the window is a thin
line (red: went offline, green: came back). The events come from
``GET /api/vps/{id}/status-events``: the newest one before the window first, so a
VPS already offline when the window starts is shaded from its left edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from common.api_models import StatusEventOut
from dashboards.figures import shift_times

__all__ = ["OFFLINE_FILL", "add_status_markers", "offline_spans"]

OFFLINE_FILL = "rgba(148, 163, 184, 0.18)"
_WENT_OFFLINE, _CAME_BACK = "#ef4444", "#22c55e"


def _ms(event: StatusEventOut) -> int:
    return round(event.time.timestamp() * 1000)


def offline_spans(events: Sequence[StatusEventOut], from_ms: int, to_ms: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each offline stretch, clipped to the window; events oldest first."""
    spans: list[tuple[int, int]] = []
    offline_since: int | None = None
    for event in events:
        at = _ms(event)
        if event.status == "offline" and offline_since is None:
            offline_since = at
        elif event.status == "online" and offline_since is not None:
            spans.append((offline_since, at))
            offline_since = None
    if offline_since is not None:
        spans.append((offline_since, to_ms))
    return [(max(s, from_ms), min(e, to_ms)) for s, e in spans if e > from_ms and s < to_ms]


def add_status_markers(
    figure: go.Figure,
    events: Sequence[StatusEventOut],
    from_ms: int,
    to_ms: int,
    tz_offset_min: int = 0,
    label: bool = False,
) -> go.Figure:
    """Shade offline stretches and mark each transition; ``label`` names the bands."""
    for start, end in offline_spans(events, from_ms, to_ms):
        x0, x1 = shift_times([start, end], tz_offset_min)
        figure.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=x0,
            x1=x1,
            y0=0,
            y1=1,
            fillcolor=OFFLINE_FILL,
            line_width=0,
            layer="below",
            name="offline",
            label={"text": "offline", "textposition": "top center", "font": {"size": 10}} if label else None,
        )
    for event in events:
        at = _ms(event)
        if from_ms <= at < to_ms:
            (x,) = shift_times([at], tz_offset_min)
            figure.add_shape(
                type="line",
                xref="x",
                yref="paper",
                x0=x,
                x1=x,
                y0=0,
                y1=1,
                line={
                    "color": _WENT_OFFLINE if event.status == "offline" else _CAME_BACK,
                    "width": 1,
                    "dash": "dot",
                },
                name=f"went {event.status}",
            )
    return figure
