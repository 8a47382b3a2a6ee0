"""The VPS page's live section: numbers and sliding-window charts fed by pushed samples.

Nothing here polls. On open, and after the feed reconnects, the charts are seeded
once with their last window from the range endpoints (``dashboards/live_seed.py``);
then they grow in place as the feed (``assets/live_feed.js``) hands each newer
sample to their ``extendData`` with a ``maxPoints`` window; the numbers are set from
the same sample. While the section
is open the API holds the VPS in watch mode, so its agent sends every snapshot.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboards.components import panel
from dashboards.context import settings
from dashboards.figures import PALETTE, live_layout
from dashboards.live_feed import feed_config, register_feed
from dashboards.live_seed import register_seed

__all__ = ["LIVE_CHARTS", "WAITING_TEXT", "WINDOW_POINTS", "live_charts", "live_figure", "live_section"]

ROOT = "vps-live"
CONFIG = "vps-live-config"
STATUS = "vps-live-status"
SEED_ASK = "vps-live-seed-ask"
SEED = "vps-live-seed"
# How many seeds the feed drew (or why the last one failed); for tests.
SEEDED = "vps-live-seeded"
# Five minutes of one-second samples; older points slide out.
WINDOW_POINTS = 300
CHART_HEIGHT_PX = 200
# What a live chart says until its first points: none in the seed's window, none pushed yet.
WAITING_TEXT = "Waiting for samples from the agent…"

# Chart id → title, y axis, and its traces (name, colour). The feed fills traces in this order.
LIVE_CHARTS: dict[str, tuple[str, dict[str, Any], tuple[tuple[str, str], ...]]] = {
    "vps-live-cpu": ("CPU · live", {"ticksuffix": "%", "range": [0, 100]}, (("cpu", PALETTE[0]),)),
    "vps-live-memory": ("Memory · live", {"ticksuffix": "%", "range": [0, 100]}, (("used", PALETTE[1]),)),
    "vps-live-network": (
        "Network · live",
        {"tickformat": "~s", "ticksuffix": "B/s"},
        (("rx", PALETTE[2]), ("tx", PALETTE[3])),
    ),
    "vps-live-load": ("Load · live", {"rangemode": "tozero"}, (("load 1", PALETTE[4]),)),
}
# Stat tiles: element id → label.
STATS = {
    "vps-live-cpu-value": "CPU",
    "vps-live-memory-value": "Memory",
    "vps-live-load-value": "Load 1m",
    "vps-live-rx-value": "Net ↓",
    "vps-live-tx-value": "Net ↑",
}


def live_figure(chart_id: str) -> go.Figure:
    """An empty chart of ``chart_id``'s traces, ready to be extended."""
    _, yaxis, traces = LIVE_CHARTS[chart_id]
    figure = go.Figure(
        [
            go.Scatter(name=name, x=[], y=[], mode="lines", line={"color": color, "width": 1.6})
            for name, color in traces
        ]
    )
    figure.update_layout(
        live_layout(chart_id, WAITING_TEXT, **yaxis), height=CHART_HEIGHT_PX, showlegend=len(traces) > 1
    )
    return figure


def live_charts() -> list[html.Section]:
    return [
        panel(
            title,
            dcc.Graph(
                id=chart_id,
                figure=live_figure(chart_id),
                config={"displayModeBar": False, "responsive": True},
                style={"height": f"{CHART_HEIGHT_PX}px"},
            ),
        )
        for chart_id, (title, _, _) in LIVE_CHARTS.items()
    ]


def _stat(element_id: str, label: str) -> html.Div:
    return html.Div(
        [
            html.Span(label, className="tw-live-label"),
            html.Span("—", id=element_id, className="tw-live-value"),
        ],
        className="tw-live-stat",
    )


def live_section(vps_id: int | None) -> html.Section:
    """The live section of VPS ``vps_id`` (hidden, with no feed, for an unknown id)."""
    config = (
        None
        if vps_id is None
        else feed_config(
            settings(),
            "vps",
            ROOT,
            STATUS,
            [vps_id],
            charts=list(LIVE_CHARTS),
            max_points=WINDOW_POINTS,
            seed={"ask": SEED_ASK},
        )
    )
    return html.Section(
        [
            dcc.Store(id=CONFIG, data=config),
            dcc.Store(id=SEED_ASK),
            dcc.Store(id=SEED),
            html.Div(
                [
                    html.H2("Live"),
                    html.Span("connecting…", id=STATUS, className="tw-live-status"),
                    html.Span("", id="vps-live-updated", className="tw-muted tw-small"),
                    # The pushed sample's own time, for tests and bench/live_latency.py.
                    html.Span("", id="vps-live-sample-ms", hidden=True),
                    html.Span("", id=SEEDED, hidden=True),
                ],
                className="tw-live-head",
            ),
            html.Div([_stat(i, label) for i, label in STATS.items()], className="tw-live-stats"),
            html.Div(live_charts(), className="tw-charts tw-live-charts"),
        ],
        id=ROOT,
        className="tw-live",
        hidden=vps_id is None,
    )


register_feed(CONFIG, STATUS)
register_seed(SEED_ASK, SEED, SEEDED)
