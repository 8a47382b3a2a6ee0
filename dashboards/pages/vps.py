"""One server: host facts, live charts and history over a chosen range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from common.install import install_command
from dashboards.alert_overlays import add_disk_projection, add_event_markers
from dashboards.client import ApiError
from dashboards.components import alert, empty_state, panel, secret_panel, vps_header
from dashboards.context import api, install_settings, token_of
from dashboards.figures import cpu_figure, disk_figure, memory_figure, network_figure
from dashboards.live_view import live_section
from dashboards.operations import operations_section
from dashboards.units import format_step

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/vps/<vps_id>", title="Server · Tidewatch", name="Server"
)

_MINUTE, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
RANGES_MS = {"15m": 15 * _MINUTE, "1h": _HOUR, "6h": 6 * _HOUR, "24h": _DAY, "7d": 7 * _DAY, "30d": 30 * _DAY}
DEFAULT_RANGE = "1h"
# History re-reads once a minute: live values are pushed (dashboards/live_view.py).
MAX_REFRESH_MS = _MINUTE
RESOLUTION_NAMES = {"raw": "raw samples", "1m": "1-minute rollup", "1h": "1-hour rollup"}
WRITERS = ("operator", "admin")
CHART_HEIGHT_PX = 250


def _graph(graph_id: str) -> dcc.Graph:
    # Dash 4 sizes a responsive graph from its own element, so the height goes here.
    return dcc.Graph(
        id=graph_id,
        config={"displayModeBar": False, "responsive": True},
        style={"height": f"{CHART_HEIGHT_PX}px"},
    )


def layout(vps_id: str | None = None, **_: Any) -> html.Div:
    """The detail page of VPS ``vps_id``."""
    number = int(vps_id) if vps_id and vps_id.isdigit() else None
    return html.Div(
        [
            dcc.Store(id="vps-id", data=number),
            dcc.Interval(id="vps-interval", interval=MAX_REFRESH_MS),
            dcc.Link("← Fleet", href="/", className="tw-back"),
            html.Div(id="vps-header", className="tw-detail-head"),
            html.Div(
                [
                    dcc.RadioItems(
                        list(RANGES_MS),
                        DEFAULT_RANGE,
                        id="vps-range",
                        inline=True,
                        className="tw-segmented",
                        inputClassName="tw-segmented-input",
                    ),
                    html.Span(id="vps-resolution", className="tw-muted tw-small"),
                    html.Div(
                        [
                            dcc.ConfirmDialogProvider(
                                html.Button("Rotate agent token", className="tw-button tw-button-ghost"),
                                id="vps-rotate-confirm",
                                message="Issue a new agent token? The agent using the old one is disconnected at once.",
                            ),
                            dcc.ConfirmDialogProvider(
                                html.Button("Delete", className="tw-button tw-button-danger"),
                                id="vps-delete-confirm",
                                message="Delete this server? Its agent token stops working; stored history ages out.",
                            ),
                        ],
                        id="vps-actions",
                        className="tw-actions",
                        hidden=True,
                    ),
                ],
                className="tw-toolbar",
            ),
            html.Div(id="vps-token-panel"),
            html.Div(id="vps-empty"),
            live_section(number),
            html.Div(
                [
                    panel("CPU", _graph("vps-cpu")),
                    panel("Memory", _graph("vps-memory")),
                    panel("Network", _graph("vps-network")),
                    panel("Disk usage", _graph("vps-disk")),
                ],
                id="vps-charts",
                className="tw-charts",
            ),
            operations_section(),
        ],
        className="tw-page",
    )


@callback(
    Output("vps-header", "children"),
    Output("vps-cpu", "figure"),
    Output("vps-memory", "figure"),
    Output("vps-network", "figure"),
    Output("vps-disk", "figure"),
    Output("vps-charts", "hidden"),
    Output("vps-empty", "children"),
    Output("vps-resolution", "children"),
    Output("vps-interval", "interval"),
    Output("app-session", "data", allow_duplicate=True),
    Input("vps-interval", "n_intervals"),
    Input("vps-range", "value"),
    # Shell stores are State: as Inputs they would fire this callback on other pages.
    State("app-tz", "data"),
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call="initial_duplicate",
)
def refresh(
    _: int | None,
    range_key: str,
    tz_offset_min: int | None,
    vps_id: int | None,
    session: dict[str, Any] | None,
) -> tuple[Any, ...]:
    skip = (no_update,) * 10
    token = token_of(session)
    if token is None:
        return skip
    if vps_id is None:
        return (alert("There is no such server."), *skip[1:5], True, None, "", no_update, no_update)
    range_ms = RANGES_MS.get(range_key, RANGES_MS[DEFAULT_RANGE])
    client = api()
    try:
        vps = client.get_vps(token, vps_id)
        host = client.host_metrics(token, vps_id, range_ms)
        network = client.network_metrics(token, vps_id, range_ms)
        disks = client.disk_metrics(token, vps_id, range_ms)
    except ApiError as exc:
        if exc.unauthorized:
            return (*skip[:9], None)
        return (alert(exc.detail), *skip[1:5], True, None, "", no_update, no_update)
    interval = max(MAX_REFRESH_MS, host.step_ms)
    if not host.time_ms and vps.latest is None:
        command = install_command(install_settings(), "YOUR_AGENT_TOKEN")
        empty = empty_state(
            "No data yet — is the agent running?",
            "Start the agent on the server with the token shown when the server was added. "
            "Lost it? Rotate the token with the button above. Install command:",
            command,
            "vps-empty-command",
        )
        return (vps_header(vps), *skip[1:5], True, empty, "", interval, no_update)
    tz = tz_offset_min or 0
    revision = f"{vps_id}-{range_key}"
    cpu, disk = cpu_figure(host, tz, revision), disk_figure(disks, tz, revision)
    now = datetime.now(UTC)
    try:  # overlays are extras: the charts stand without them
        since = (now - timedelta(milliseconds=range_ms)).isoformat()
        add_event_markers(cpu, client.alert_events(token, vps_id=vps_id, since=since), now, tz)
        if disks.mounts:
            add_disk_projection(disk, client.disk_forecast(token, vps_id), now, range_ms, tz)
    except ApiError:
        pass
    resolution = f"{RESOLUTION_NAMES[host.resolution]} · {format_step(host.step_ms)} buckets"
    return (
        vps_header(vps),
        cpu,
        memory_figure(host, tz, revision),
        network_figure(network, tz, revision),
        disk,
        False,
        None,
        resolution,
        interval,
        no_update,
    )


@callback(Output("vps-actions", "hidden"), Input("app-session", "data"))
def show_actions(session: dict[str, Any] | None) -> bool:
    return not session or session.get("role") not in WRITERS


@callback(
    Output("vps-token-panel", "children"),
    Input("vps-rotate-confirm", "submit_n_clicks"),
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def rotate(confirmed: int | None, vps_id: int | None, session: dict[str, Any] | None) -> Any:
    token = token_of(session)
    # Dash may call this as the page mounts: act only on a confirmed click.
    if not confirmed or token is None or vps_id is None:
        return no_update
    try:
        rotated = api().rotate_token(token, vps_id)
    except ApiError as exc:
        return alert(exc.detail)
    return secret_panel("New agent token", rotated.agent_token, rotated.install_command, "vps-new")


@callback(
    Output("app-location", "pathname", allow_duplicate=True),
    Output("vps-token-panel", "children", allow_duplicate=True),
    Input("vps-delete-confirm", "submit_n_clicks"),
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def delete(confirmed: int | None, vps_id: int | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
    token = token_of(session)
    if not confirmed or token is None or vps_id is None:
        return no_update, no_update
    try:
        api().delete_vps(token, vps_id)
    except ApiError as exc:
        return no_update, alert(exc.detail)
    return "/", None
