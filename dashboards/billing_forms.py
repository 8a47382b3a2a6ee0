"""Operator forms on the billing page: a server's billing facts and its traffic quota.

Viewers never see them (the API refuses their writes anyway); errors show the API's
problem detail, which names the field."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from dashboards.billing_format import FormError, billing_body, quota_body
from dashboards.client import ApiError
from dashboards.components import alert
from dashboards.context import api, token_of
from dashboards.deferred import DeferredCallbacks

__all__ = ["CALLBACKS", "billing_forms"]

# Registered by the page that shows these controls (see dashboards.deferred).
CALLBACKS = DeferredCallbacks()

WRITERS = ("operator", "admin")
CYCLES = ["monthly", "quarterly", "semiannual", "yearly", "biennial", "triennial", "once"]
DIRECTIONS = ["total", "in", "out", "max"]


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id), control])


def billing_forms() -> html.Div:
    """Hidden until the session's role may write."""
    return html.Div(
        [
            html.H3("Set a server's billing facts and traffic quota"),
            html.Div(
                _field("Server", dcc.Dropdown([], id="billing-form-vps", clearable=False, className="tw-dropdown")),
                className="tw-form-row",
            ),
            html.Div(
                [
                    _field("Provider", dcc.Input(id="billing-form-provider", className="tw-input", placeholder="Hetzner")),
                    _field("Price", dcc.Input(id="billing-form-price", type="number", min=0, className="tw-input")),
                    _field("Currency", dcc.Input(id="billing-form-currency", value="USD", className="tw-input")),
                    _field("Cycle", dcc.Dropdown(CYCLES, "monthly", id="billing-form-cycle", clearable=False,
                                                 className="tw-dropdown")),
                    _field("Expires on", dcc.Input(id="billing-form-expires", type="text", placeholder="YYYY-MM-DD",
                                                   className="tw-input")),
                    dcc.Checklist([{"label": " auto-renew", "value": "yes"}], [], id="billing-form-auto-renew"),
                    html.Button("Save billing", id="billing-form-submit", className="tw-button tw-button-primary",
                                n_clicks=0),
                ],
                className="tw-form-row",
            ),
            html.Div(id="billing-form-result"),
            html.Div(
                [
                    _field("Quota direction", dcc.Dropdown(DIRECTIONS, "total", id="quota-form-direction",
                                                           clearable=False, className="tw-dropdown")),
                    _field("Quota (GiB, empty for none)", dcc.Input(id="quota-form-gib", type="number", min=0,
                                                                     className="tw-input")),
                    _field("Reset day", dcc.Input(id="quota-form-reset-day", type="number", min=1, max=28, value=1,
                                                  className="tw-input")),
                    _field("Timezone", dcc.Input(id="quota-form-timezone", value="UTC", className="tw-input")),
                    _field("Warn at %", dcc.Input(id="quota-form-warn", value="80, 100", className="tw-input")),
                    html.Button("Save quota", id="quota-form-submit", className="tw-button tw-button-primary",
                                n_clicks=0),
                ],
                className="tw-form-row",
            ),
            html.Div(id="quota-form-result"),
        ],
        id="billing-forms",
        className="tw-card tw-add-panel",
        hidden=True,
    )  # fmt: skip


@CALLBACKS.callback(
    Output("billing-forms", "hidden"),
    Output("billing-form-vps", "options"),
    Input("app-session", "data"),
)
def show_forms(session: dict[str, Any] | None) -> tuple[bool, Any]:
    token = token_of(session)
    if token is None or not session or session.get("role") not in WRITERS:
        return True, no_update
    try:
        fleet = api().list_vps(token)
    except ApiError:
        return False, []
    return False, [{"label": v.name, "value": v.id} for v in fleet]


@CALLBACKS.callback(
    Output("billing-form-result", "children"),
    Output("billing-saved", "data"),
    Input("billing-form-submit", "n_clicks"),
    State("billing-form-vps", "value"),
    State("billing-form-provider", "value"),
    State("billing-form-price", "value"),
    State("billing-form-currency", "value"),
    State("billing-form-cycle", "value"),
    State("billing-form-expires", "value"),
    State("billing-form-auto-renew", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def save_billing(
    clicks: int | None,
    vps_id: int | None,
    provider: str | None,
    price: float | None,
    currency: str | None,
    cycle: str | None,
    expires: str | None,
    auto_renew: list[str] | None,
    session: dict[str, Any] | None,
) -> tuple[Any, Any]:
    token = token_of(session)
    if not clicks or token is None:
        return no_update, no_update
    if vps_id is None:
        return alert("Choose a server."), no_update
    body = billing_body(provider, price, currency, cycle, expires, bool(auto_renew))
    try:
        saved = api().put_billing(token, vps_id, body)
    except ApiError as exc:
        return alert(exc.detail), no_update
    return alert(f"Billing facts saved for server {saved.vps_id}.", "success"), clicks


@CALLBACKS.callback(
    Output("quota-form-result", "children"),
    Input("quota-form-submit", "n_clicks"),
    State("billing-form-vps", "value"),
    State("quota-form-direction", "value"),
    State("quota-form-gib", "value"),
    State("quota-form-reset-day", "value"),
    State("quota-form-timezone", "value"),
    State("quota-form-warn", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def save_quota(
    clicks: int | None,
    vps_id: int | None,
    direction: str | None,
    quota_gib: float | None,
    reset_day: int | None,
    timezone: str | None,
    warn: str | None,
    session: dict[str, Any] | None,
) -> Any:
    token = token_of(session)
    if not clicks or token is None:
        return no_update
    if vps_id is None:
        return alert("Choose a server.")
    try:
        quota = api().put_traffic_quota(
            token, vps_id, quota_body(direction, quota_gib, reset_day, timezone, warn)
        )
    except FormError as exc:
        return alert(str(exc))
    except ApiError as exc:
        return alert(exc.detail)
    return alert(f"Traffic quota saved: {quota.direction}, resets on day {quota.reset_day}.", "success")
