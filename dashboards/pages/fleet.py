"""The fleet at a glance: every server's status and usage, and adding servers."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from common.api_models import VpsOut
from common.api_models.alerts import BillingOut
from dashboards import fleet_controls
from dashboards.billing_format import expiry_note, format_totals, monthly_totals, reminder_days
from dashboards.client import ApiError
from dashboards.components import alert, secret_panel
from dashboards.context import api, token_of
from dashboards.fleet_live import RESYNC_MS, fleet_live_feed
from dashboards.fleet_view import fleet_row, query_from_params

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/", title="Fleet · Tidewatch", name="Fleet"
)

WRITERS = ("operator", "admin")
fleet_controls.CALLBACKS.register()


def layout(**query: str | list[str]) -> html.Div:
    """Header with counts, the add-server form, the view controls (as the URL's query
    string sets them), and the servers."""
    return html.Div(
        [
            # Live numbers are pushed (dashboards/fleet_live.py); this re-reads the fleet's list.
            dcc.Interval(id="fleet-interval", interval=RESYNC_MS),
            dcc.Store(id="fleet-created"),
            html.Div(
                [
                    html.Div(
                        [
                            html.H1("Fleet"),
                            html.Div(id="fleet-summary", className="tw-summary"),
                            fleet_live_feed("fleet-interval"),
                        ]
                    ),
                    html.Button(
                        "+ Add server",
                        id="fleet-add-toggle",
                        className="tw-button tw-button-primary",
                        n_clicks=0,
                        hidden=True,
                    ),
                ],
                className="tw-page-head",
            ),
            html.Div(
                [
                    html.H3("Add a server"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label("Name", htmlFor="fleet-add-name"),
                                    dcc.Input(
                                        id="fleet-add-name", className="tw-input", placeholder="web-01"
                                    ),
                                ]
                            ),
                            html.Div(
                                [
                                    html.Label("IP address or host name", htmlFor="fleet-add-ip"),
                                    dcc.Input(
                                        id="fleet-add-ip", className="tw-input", placeholder="203.0.113.7"
                                    ),
                                ]
                            ),
                            html.Button(
                                "Create",
                                id="fleet-add-submit",
                                className="tw-button tw-button-primary",
                                n_clicks=0,
                            ),
                        ],
                        className="tw-form-row",
                    ),
                    html.Div(id="fleet-add-error"),
                ],
                id="fleet-add-panel",
                className="tw-card tw-add-panel",
                hidden=True,
            ),
            html.Div(id="fleet-token-panel"),
            fleet_controls.controls(query_from_params(query)),
            html.Div(id="fleet-error"),
            html.Div(id="fleet-grid", className="tw-grid"),
        ],
        className="tw-page tw-fleet-page",
    )


def _summary(fleet: list[VpsOut], billing: list[BillingOut]) -> list[html.Span]:
    online = sum(v.online for v in fleet)
    return [
        html.Span(f"{len(fleet)} server{'s' if len(fleet) != 1 else ''}", className="tw-chip"),
        html.Span(f"{online} online", className="tw-chip tw-chip-online"),
        html.Span(f"{len(fleet) - online} offline", className="tw-chip tw-chip-offline"),
        *[
            html.Span(text, className="tw-chip tw-chip-cost")
            for text in format_totals(monthly_totals(billing))
        ],
    ]


def _billing(token: str) -> tuple[list[BillingOut], int]:
    """Billing facts and the reminder window; the fleet still shows without them."""
    try:
        return api().list_billing(token), reminder_days(api().alert_rules(token))
    except ApiError:
        return [], reminder_days([])


@callback(
    Output("fleet-rows", "data"),
    Output("fleet-size", "data"),
    Output("fleet-summary", "children"),
    Output("fleet-error", "children"),
    Output("fleet-group", "options"),
    Output("fleet-label-options", "children"),
    Output("app-session", "data", allow_duplicate=True),
    Input("fleet-interval", "n_intervals"),
    Input("fleet-created", "data"),
    State("app-session", "data"),
    State("fleet-group", "value"),
    State("fleet-size", "data"),
    prevent_initial_call="initial_duplicate",
)
def refresh(
    _: int | None, __: Any, session: dict[str, Any] | None, group: str | None, size: int | None
) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None:
        return (no_update,) * 7
    try:
        fleet = api().list_vps(token)
    except ApiError as exc:
        if exc.unauthorized:
            return (*(no_update,) * 6, None)
        return (
            no_update,
            no_update,
            no_update,
            alert(f"Could not load the fleet: {exc.detail}"),
            *(no_update,) * 3,
        )
    billing, window = _billing(token)
    by_vps = {item.vps_id: item for item in billing}
    rows = [fleet_row(v, expiry_note(by_vps.get(v.id), window)) for v in fleet]
    return (
        fleet_controls.encode_rows(rows),
        len(rows) if len(rows) != size else no_update,  # each change runs choose_view: only real ones
        _summary(fleet, billing),
        None,
        fleet_controls.group_options(rows, group),
        fleet_controls.label_suggestions(rows),
        no_update,
    )


@callback(
    Output("fleet-add-toggle", "hidden"),
    Input("app-session", "data"),
)
def show_add_button(session: dict[str, Any] | None) -> bool:
    return not session or session.get("role") not in WRITERS


@callback(
    Output("fleet-add-panel", "hidden"),
    Input("fleet-add-toggle", "n_clicks"),
    State("fleet-add-panel", "hidden"),
    prevent_initial_call=True,
)
def toggle_add_panel(clicks: int | None, hidden: bool) -> bool:
    return not hidden if clicks else hidden


@callback(
    Output("fleet-token-panel", "children"),
    Output("fleet-add-error", "children"),
    Output("fleet-created", "data"),
    Output("fleet-add-name", "value"),
    Output("fleet-add-ip", "value"),
    Input("fleet-add-submit", "n_clicks"),
    State("fleet-add-name", "value"),
    State("fleet-add-ip", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def add_server(
    clicks: int | None, name: str | None, ip_address: str | None, session: dict[str, Any] | None
) -> tuple[Any, ...]:
    token = token_of(session)
    if not clicks:
        return (no_update,) * 5
    if token is None:
        return no_update, alert("Sign in again."), no_update, no_update, no_update
    if not name or not name.strip():
        return no_update, alert("Give the server a name."), no_update, no_update, no_update
    try:
        created = api().create_vps(token, name.strip(), (ip_address or "").strip())
    except ApiError as exc:
        return no_update, alert(exc.detail), no_update, no_update, no_update
    panel = secret_panel(
        f"{created.vps.name} added", created.agent_token, created.install_command, "fleet-new"
    )
    return panel, None, created.vps.id, "", ""
