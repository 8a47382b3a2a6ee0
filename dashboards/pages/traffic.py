"""Monthly traffic: the fleet's current cycles, or one server's cycles with the forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from common.api_models.alerts import TrafficVpsOut
from dashboards.client import ApiError
from dashboards.components import alert, empty_state, panel
from dashboards.context import api, token_of
from dashboards.traffic_figures import fleet_traffic_figure, vps_traffic_figure
from dashboards.units import format_bytes

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/traffic", title="Traffic · Tidewatch", name="Traffic"
)

REFRESH_MS = 60_000


def layout(vps: str | None = None, **_: Any) -> html.Div:
    """``/traffic`` for the fleet, ``/traffic?vps=<id>`` for one server."""
    return html.Div(
        [
            dcc.Interval(id="traffic-interval", interval=REFRESH_MS),
            dcc.Store(id="traffic-vps", data=vps if vps and vps.isdigit() else None),
            html.Div(
                [html.H1("Monthly traffic"), html.Div(id="traffic-summary", className="tw-summary")],
                className="tw-page-head",
            ),
            html.Div(id="traffic-body"),
        ],
        className="tw-page",
    )


def _forecast_text(item: TrafficVpsOut) -> str:
    if item.quota.quota_bytes is None:
        return "no quota"
    if item.exhausted_at is None:
        return "within quota this cycle"
    return f"quota runs out {item.exhausted_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _row(item: TrafficVpsOut) -> html.Tr:
    used = item.current.used_bytes
    percent = f"{item.used_percent:.1f} %" if item.used_percent is not None else "—"
    return html.Tr(
        [
            html.Td(dcc.Link(item.name, href=f"/traffic?vps={item.vps_id}")),
            html.Td(format_bytes(item.current.rx_bytes)),
            html.Td(format_bytes(item.current.tx_bytes)),
            html.Td(f"{format_bytes(used)} ({item.quota.direction})"),
            html.Td(format_bytes(item.quota.quota_bytes) if item.quota.quota_bytes else "—"),
            html.Td(percent),
            html.Td(format_bytes(item.projected_bytes)),
            html.Td(_forecast_text(item)),
        ],
        id=f"traffic-row-{item.vps_id}",
    )


_HEAD = html.Thead(
    html.Tr(
        [html.Th(h) for h in ("Server", "In", "Out", "Counted", "Quota", "Used", "Projected", "Forecast")]
    )
)


@callback(
    Output("traffic-body", "children"),
    Output("traffic-summary", "children"),
    Input("traffic-interval", "n_intervals"),
    Input("traffic-vps", "data"),
    State("app-session", "data"),
)
def refresh(_: int | None, vps: str | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
    token = token_of(session)
    if token is None:
        return no_update, no_update
    try:
        if vps is not None:
            item = api().vps_traffic(token, int(vps), cycles=6)
            cycle = f"cycle since {item.current.start:%Y-%m-%d}, resets on day {item.quota.reset_day}"
            body = [
                panel(
                    f"{item.name}: this and past cycles",
                    dcc.Graph(
                        id="traffic-vps-graph",
                        figure=vps_traffic_figure(item),
                        config={"displayModeBar": False},
                    ),
                ),
                html.Table([_HEAD, html.Tbody([_row(item)])], className="tw-table", id="traffic-table"),
            ]
            return body, [
                html.Span(cycle, className="tw-chip"),
                html.Span(_forecast_text(item), className="tw-chip"),
            ]
        fleet = api().fleet_traffic(token)
    except ApiError as exc:
        return alert(f"Could not load traffic: {exc.detail}"), no_update
    if not fleet.vps:
        return empty_state("No servers yet", "Traffic appears once agents report."), no_update
    summary = [
        html.Span(f"{format_bytes(fleet.used_bytes)} this cycle", className="tw-chip"),
        html.Span(f"{format_bytes(fleet.projected_bytes)} projected", className="tw-chip"),
        html.Span(f"as of {datetime.now(UTC):%H:%M} UTC", className="tw-chip"),
    ]
    body = [
        panel(
            "Fleet: current cycle per server",
            dcc.Graph(
                id="traffic-fleet-graph", figure=fleet_traffic_figure(fleet), config={"displayModeBar": False}
            ),
        ),
        html.Table(
            [_HEAD, html.Tbody([_row(v) for v in fleet.vps])], className="tw-table", id="traffic-table"
        ),
    ]
    return body, summary
