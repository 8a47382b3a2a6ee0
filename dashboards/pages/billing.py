"""Costs and renewals: every server's provider, price and expiry, with monthly totals."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from common.api_models.alerts import BillingOut
from dashboards import billing_forms as forms
from dashboards.billing_format import monthly_totals
from dashboards.client import ApiError
from dashboards.components import alert, empty_state, panel
from dashboards.context import api, token_of

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/billing", title="Billing · Tidewatch", name="Billing"
)

forms.CALLBACKS.register()

REFRESH_MS = 60_000
SOON_DAYS = 30


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id="billing-interval", interval=REFRESH_MS),
            dcc.Store(id="billing-saved"),
            html.Div(
                [html.H1("Costs and renewals"), html.Div(id="billing-summary", className="tw-summary")],
                className="tw-page-head",
            ),
            forms.billing_forms(),
            html.Div(id="billing-body"),
        ],
        className="tw-page",
    )


def _expiry(item: BillingOut) -> html.Span:
    if item.expires_on is None or item.days_left is None:
        return html.Span("—")
    state = "tw-alert-firing" if item.days_left <= 7 and not item.auto_renew else "tw-alert-resolved"
    return html.Span(f"{item.expires_on:%Y-%m-%d} ({item.days_left} d)", className=f"tw-alert-state {state}")


def _row(item: BillingOut, names: dict[int, str]) -> html.Tr:
    price = "—" if item.price is None else f"{item.price:.2f} {item.currency} / {item.cycle}"
    monthly = "—" if item.monthly_cost is None else f"{item.monthly_cost:.2f} {item.currency}"
    return html.Tr(
        [
            html.Td(dcc.Link(names.get(item.vps_id, f"VPS {item.vps_id}"), href=f"/vps/{item.vps_id}")),
            html.Td(item.provider or "—"),
            html.Td(price),
            html.Td(monthly),
            html.Td(_expiry(item)),
            html.Td("yes" if item.auto_renew else "no"),
        ]
    )


@callback(
    Output("billing-body", "children"),
    Output("billing-summary", "children"),
    Input("billing-interval", "n_intervals"),
    Input("billing-saved", "data"),
    State("app-session", "data"),
)
def refresh(_: int | None, __: Any, session: dict[str, Any] | None) -> tuple[Any, Any]:
    token = token_of(session)
    if token is None:
        return no_update, no_update
    try:
        items = api().list_billing(token)
        names = {v.id: v.name for v in api().list_vps(token)}
    except ApiError as exc:
        return alert(f"Could not load billing facts: {exc.detail}"), no_update
    if not items:
        return empty_state(
            "No billing facts yet",
            "Operators set them per server with the form above (or PUT /api/vps/{id}/billing).",
        ), no_update
    soon = sum(1 for i in items if i.days_left is not None and i.days_left <= SOON_DAYS)
    summary = [html.Span(f"{total:.2f} {currency} / month", className="tw-chip")
               for currency, total in monthly_totals(items).items()]  # fmt: skip
    summary.append(html.Span(f"{soon} expiring within {SOON_DAYS} days", className="tw-chip"))
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Server", "Provider", "Price", "Monthly", "Expires", "Auto-renew")])
    )
    table = html.Table(
        [head, html.Tbody([_row(i, names) for i in items])], className="tw-table", id="billing-table"
    )
    return panel("Servers by expiry", table), summary
