"""The history section of the VPS page: range toolbar, captions, and a panel per chart.

Ids start with ``vps-``; the fixed charts keep the ids the page had before
(``vps-cpu``, ``vps-memory``, ``vps-network``, ``vps-disk``), so links and tests
that name them still work. Custom metrics get a panel each, made at render time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from dashboards.components import panel
from dashboards.history.chart import CHART_HEIGHT_PX
from dashboards.history.ranges import PRESETS, from_query

__all__ = [
    "CHARTS",
    "CUSTOM_DATA",
    "CUSTOM_GRAPH",
    "CUSTOM_LABELS",
    "ChartSlot",
    "graph",
    "history_section",
    "raw_note",
]

CUSTOM_GRAPH, CUSTOM_LABELS, CUSTOM_DATA = "vps-custom-graph", "vps-custom-labels", "vps-custom-data"


@dataclass(frozen=True, slots=True)
class ChartSlot:
    """A fixed chart: its graph id and title; ``optional`` panels hide when the host has no such data;
    ``raw_only`` families have no rollups, so long ranges show only what raw retention keeps."""

    graph_id: str
    title: str
    optional: bool = False
    raw_only: bool = False


CHARTS: tuple[ChartSlot, ...] = (
    ChartSlot("vps-cpu", "CPU"),
    ChartSlot("vps-cores", "CPU per core", optional=True, raw_only=True),
    ChartSlot("vps-load", "Load average"),
    ChartSlot("vps-memory", "Memory and swap"),
    ChartSlot("vps-network", "Network"),
    ChartSlot("vps-connections", "Connections"),
    ChartSlot("vps-diskio", "Disk I/O throughput", optional=True),
    ChartSlot("vps-diskio-ops", "Disk I/O operations", optional=True),
    ChartSlot("vps-disk", "Disk usage"),
    ChartSlot("vps-inodes", "Inodes", optional=True),
    ChartSlot("vps-processes", "Processes"),
    ChartSlot("vps-temperatures", "Temperatures", optional=True, raw_only=True),
    ChartSlot("vps-containers-cpu", "Containers: CPU", optional=True),
    ChartSlot("vps-containers-memory", "Containers: memory", optional=True),
)


def graph(graph_id: Any, figure: Any = None) -> dcc.Graph:
    # Dash 4 sizes a responsive graph from its own element, so the height goes here.
    return dcc.Graph(
        id=graph_id,
        figure=figure if figure is not None else {},
        config={"displayModeBar": False, "responsive": True},
        style={"height": f"{CHART_HEIGHT_PX}px"},
    )


def raw_note() -> html.Span:
    """The panel note of a family without rollups."""
    return html.Span(
        "raw samples only",
        className="tw-muted tw-small",
        title="Not rolled up: kept as long as raw samples (7 days by default)",
    )


def _toolbar(preset: str | None) -> html.Div:
    return html.Div(
        [
            dcc.RadioItems(
                list(PRESETS),
                preset,
                id="vps-range",
                inline=True,
                className="tw-segmented",
                inputClassName="tw-segmented-input",
            ),
            html.Div(
                [
                    dcc.Input(
                        id="vps-history-from",
                        type="text",
                        placeholder="YYYY-MM-DD HH:MM",
                        className="tw-input tw-range-input",
                    ),
                    html.Span("→", className="tw-muted"),
                    dcc.Input(
                        id="vps-history-to",
                        type="text",
                        placeholder="YYYY-MM-DD HH:MM",
                        className="tw-input tw-range-input",
                    ),
                    html.Button(
                        "Show", id="vps-history-apply", className="tw-button tw-button-ghost", n_clicks=0
                    ),
                ],
                className="tw-range-picker",
                title="A custom range, in your local time",
            ),
        ],
        className="tw-toolbar",
    )


def history_section(query: Mapping[str, Any]) -> html.Section:
    """The section, starting at the range ``query`` (the page URL's parameters) describes."""
    start = from_query(query)
    return html.Section(
        [
            dcc.Store(id="vps-history-range", data=start.store()),
            dcc.Store(id="vps-history-tz"),
            dcc.Store(id="vps-history-zoom"),
            dcc.Store(id="vps-history-url"),
            html.Div(id="vps-history-url-done", hidden=True),
            # Presets move with now: re-read as often as a new bucket is worth it (set per render).
            dcc.Interval(id="vps-history-interval", interval=60_000, disabled=start.preset is None),
            _toolbar(start.preset),
            html.Div(
                [
                    html.Span(id="vps-history-span"),
                    html.Span(id="vps-resolution"),
                    html.Span(id="vps-history-timezone"),
                ],
                className="tw-history-captions tw-muted tw-small",
            ),
            html.Div(id="vps-history-notes"),
            html.Div(
                [
                    panel(
                        slot.title,
                        graph(slot.graph_id),
                        raw_note() if slot.raw_only else None,
                        f"{slot.graph_id}-panel",
                    )
                    for slot in CHARTS
                ],
                id="vps-charts",
                className="tw-charts",
            ),
            html.Div(id="vps-custom-charts", className="tw-charts"),
        ],
        id="vps-history",
        className="tw-history",
    )
