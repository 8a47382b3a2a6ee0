"""The history section's callbacks: pick a range (preset, picker, zoom), render every
chart for it, keep the URL in step, redraw a custom metric when its labels change.

Registered per app through :data:`CALLBACKS` (see ``dashboards.deferred``); the VPS
page calls ``CALLBACKS.register()``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from dash import ALL, MATCH, Input, Output, State, dcc, html, no_update

from common.api_models import CustomSeries, StatusEventOut
from dashboards.alert_overlays import add_disk_projection, add_event_markers
from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of
from dashboards.deferred import DeferredCallbacks
from dashboards.history.captions import describe_range, describe_resolution, describe_timezone
from dashboards.history.charts import custom_chart, fixed_charts, selections
from dashboards.history.fetch import HistoryData, fetch_history
from dashboards.history.layout import (
    CHARTS,
    CUSTOM_DATA,
    CUSTOM_GRAPH,
    CUSTOM_LABELS,
    graph,
    raw_note,
)
from dashboards.history.ranges import (
    PRESETS,
    HistoryRange,
    from_local_input,
    from_store,
    to_local_input,
    zoomed_range,
)
from dashboards.history.workload_figures import custom_by_name, default_label_sets, label_set

__all__ = ["CALLBACKS"]

CALLBACKS = DeferredCallbacks()
GRAPH_IDS = [slot.graph_id for slot in CHARTS]
# A preset re-reads at most this often (the live section shows the present) ...
MIN_REFRESH_MS = 60_000
# ... unless it is still empty: a server that just started reporting fills in soon.
EMPTY_REFRESH_MS = 5_000


def _now_ms() -> int:
    return int(time.time() * 1000)


# Three callbacks write the range, so a slow one (a zoom check) never holds up another (a preset click).
@CALLBACKS.callback(
    Output("vps-history-range", "data"),
    Input("vps-range", "value"),
    prevent_initial_call=True,
)
def choose_preset(preset: str | None) -> Any:
    """A preset click; None (set when a zoom or the picker takes over) changes nothing."""
    return HistoryRange(preset).store() if preset in PRESETS else no_update


@CALLBACKS.callback(
    Output("vps-history-range", "data", allow_duplicate=True),
    Output("vps-range", "value", allow_duplicate=True),
    Input("vps-history-apply", "n_clicks"),
    State("vps-history-from", "value"),
    State("vps-history-to", "value"),
    State("vps-history-tz", "data"),
    prevent_initial_call=True,
)
def choose_custom(
    _: int | None, from_text: str | None, to_text: str | None, tz: dict[str, Any] | None
) -> Any:
    """The range picker's Show: a fixed range in the viewer's local time."""
    offset = int((tz or {}).get("offset_min", 0))
    start, end = from_local_input(from_text, offset), from_local_input(to_text, offset)
    if start is None or end is None or start >= end:
        return no_update, no_update
    return HistoryRange.fixed(start, end).store(), None


# Charts report every resize as relayoutData; only x zooms and resets leave the browser. Kept in the
# browser so a burst of resizes never queues server calls in front of a zoom.
CALLBACKS.clientside_callback(
    """function() {
        for (const trigger of dash_clientside.callback_context.triggered || []) {
            const v = trigger.value;
            if (v && typeof v === "object" && (v["xaxis.autorange"] === true
                || ("xaxis.range[0]" in v && "xaxis.range[1]" in v) || Array.isArray(v["xaxis.range"]))) {
                return v;
            }
        }
        return dash_clientside.no_update;
    }""",
    Output("vps-history-zoom", "data"),
    *(Input(graph_id, "relayoutData") for graph_id in GRAPH_IDS),
    Input({"type": CUSTOM_GRAPH, "name": ALL}, "relayoutData"),
    prevent_initial_call=True,
)


@CALLBACKS.callback(
    Output("vps-history-range", "data", allow_duplicate=True),
    Output("vps-range", "value", allow_duplicate=True),
    Input("vps-history-zoom", "data"),
    State("vps-history-tz", "data"),
    State("vps-history-range", "data"),
    prevent_initial_call=True,
)
def choose_zoom(
    relayout: dict[str, Any] | None, tz: dict[str, Any] | None, shown: dict[str, Any] | None
) -> Any:
    """A zoom on any chart becomes the range of all; a double-click goes back to the preset."""
    chosen = zoomed_range(relayout, int((tz or {}).get("offset_min", 0)), from_store(shown))
    if chosen is None:  # a y-only zoom, or a reset with nowhere to go back to
        return no_update, no_update
    if chosen.preset is not None:  # the preset's own callback sets the range
        return no_update, chosen.preset
    return chosen.store(), None


# The browser's zone name and today's offset (the axes use one offset for the whole range).
CALLBACKS.clientside_callback(
    """function(_) {
        return {name: Intl.DateTimeFormat().resolvedOptions().timeZone || null,
                offset_min: -new Date().getTimezoneOffset()};
    }""",
    Output("vps-history-tz", "data"),
    Input("vps-history-range", "id"),
)
# replaceState, not dcc.Location: a changed search would make Dash pages rebuild the page.
CALLBACKS.clientside_callback(
    """function(query) {
        if (query && window.location.search !== query) {
            window.history.replaceState(window.history.state, "", window.location.pathname + query);
        }
        return query || "";
    }""",
    Output("vps-history-url-done", "children"),
    Input("vps-history-url", "data"),
)


def _custom_panels(
    data: HistoryData, previous: dict[str, list[str]], tz: int, revision: str
) -> list[html.Section]:
    if data.custom is None:
        return []
    panels = []
    events = [msgspec.to_builtins(e) for e in data.events]
    for name, metrics in custom_by_name(data.custom).items():
        options = sorted(label_set(m.labels) for m in metrics)
        chosen = [v for v in previous.get(name, []) if v in options] or default_label_sets(metrics)
        window = msgspec.structs.replace(data.custom, metrics=metrics)
        figure = custom_chart(window, metrics, chosen, data.events, tz, revision)
        picker = dcc.Dropdown(
            options, chosen, multi=True, id={"type": CUSTOM_LABELS, "name": name}, className="tw-label-picker"
        )
        store = dcc.Store(
            id={"type": CUSTOM_DATA, "name": name},
            data={"window": msgspec.to_builtins(window), "events": events, "tz": tz, "revision": revision},
        )
        chart = graph({"type": CUSTOM_GRAPH, "name": name}, figure)
        panels.append(panel(name, html.Div([picker, chart, store]), raw_note(), f"vps-custom-{name}"))
    return panels


@CALLBACKS.callback(
    *(Output(graph_id, "figure") for graph_id in GRAPH_IDS),
    *(Output(f"{graph_id}-panel", "hidden") for graph_id in GRAPH_IDS),
    Output("vps-custom-charts", "children"),
    Output("vps-resolution", "children"),
    Output("vps-history-span", "children"),
    Output("vps-history-timezone", "children"),
    Output("vps-history-notes", "children"),
    Output("vps-history-url", "data"),
    Output("vps-history-interval", "interval"),
    Output("vps-history-interval", "disabled"),
    Output("vps-history-from", "value"),
    Output("vps-history-to", "value"),
    Output("app-session", "data", allow_duplicate=True),
    Input("vps-history-range", "data"),
    Input("vps-history-tz", "data"),
    Input("vps-history-interval", "n_intervals"),
    State("vps-id", "data"),
    State("app-session", "data"),
    State({"type": CUSTOM_LABELS, "name": ALL}, "value"),
    State({"type": CUSTOM_LABELS, "name": ALL}, "id"),
    prevent_initial_call="initial_duplicate",
)
def render(
    range_data: dict[str, Any] | None,
    tz: dict[str, Any] | None,
    _: int | None,
    vps_id: int | None,
    session: dict[str, Any] | None,
    label_values: list[Any],
    label_ids: list[dict[str, Any]],
) -> tuple[Any, ...]:
    """Every chart for the chosen range, read afresh from the API."""
    count = 2 * len(GRAPH_IDS) + 11
    skip = (no_update,) * count
    token = token_of(session)
    if token is None or vps_id is None or tz is None:
        return skip
    chosen = from_store(range_data)
    offset = int(tz.get("offset_min", 0))
    from_ms, to_ms = chosen.bounds(_now_ms())
    client = api()
    try:
        data = fetch_history(client, token, vps_id, from_ms, to_ms)
    except ApiError as exc:
        if exc.unauthorized:
            return (*skip[:-1], None)
        return (*skip[: 2 * len(GRAPH_IDS) + 4], alert(exc.detail), *skip[2 * len(GRAPH_IDS) + 5 :])
    revision = f"{vps_id}-{chosen.preset}" if chosen.preset else f"{vps_id}-{from_ms}-{to_ms}"
    charts = fixed_charts(data, GRAPH_IDS, offset, revision)
    _overlay_alerts(charts, data, chosen, token, vps_id, offset)
    notes = [alert(f"Not shown: {failure}", "warning") for failure in data.failures]
    if data.custom is not None and data.custom.truncated:
        notes.append(
            alert("More custom series than a view holds: the first ones by name are shown.", "warning")
        )
    refresh = max(MIN_REFRESH_MS, data.host.step_ms) if data.host.time_ms else EMPTY_REFRESH_MS
    return (
        *(figure for figure, _ in charts),
        *(not shown for _, shown in charts),
        _custom_panels(data, selections(label_ids, label_values), offset, revision),
        describe_resolution(data.host),
        describe_range(data.host.from_ms, data.host.to_ms, offset),
        describe_timezone(tz.get("name"), offset),
        notes,
        chosen.query(),
        refresh,
        chosen.preset is None,
        to_local_input(from_ms, offset),
        to_local_input(to_ms, offset),
        no_update,
    )


def _overlay_alerts(
    charts: list[Any], data: HistoryData, chosen: HistoryRange, token: str, vps_id: int, offset: int
) -> None:
    """Alert bands on the CPU chart; for ranges that end now, the disk-full projection."""
    cpu, disk = charts[GRAPH_IDS.index("vps-cpu")][0], charts[GRAPH_IDS.index("vps-disk")][0]
    client = api()
    try:  # overlays are extras: the charts stand without them
        since = datetime.fromtimestamp(data.host.from_ms / 1000, UTC)
        events = [e for e in client.alert_events(token, vps_id=vps_id, since=since.isoformat())]
        end = datetime.fromtimestamp(data.host.to_ms / 1000, UTC)
        add_event_markers(cpu, [e for e in events if e.started_at < end], end, offset)
        if chosen.preset is not None and data.disks is not None and data.disks.mounts:
            span = timedelta(milliseconds=PRESETS[chosen.preset])
            add_disk_projection(
                disk, client.disk_forecast(token, vps_id), end, int(span.total_seconds() * 1000), offset
            )
    except ApiError:
        pass


@CALLBACKS.callback(
    Output({"type": CUSTOM_GRAPH, "name": MATCH}, "figure"),
    Input({"type": CUSTOM_LABELS, "name": MATCH}, "value"),
    State({"type": CUSTOM_DATA, "name": MATCH}, "data"),
    prevent_initial_call=True,
)
def pick_labels(selected: list[str] | None, stored: dict[str, Any] | None) -> Any:
    """Redraw one custom metric for the label sets picked, from the data already read."""
    if not stored:
        return no_update
    window = msgspec.convert(stored["window"], CustomSeries)
    events = msgspec.convert(stored["events"], list[StatusEventOut])
    return custom_chart(window, window.metrics, selected or [], events, stored["tz"], stored["revision"])
