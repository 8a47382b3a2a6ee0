"""``/status``: the public status page. Needs no sign-in; shows only what the API's
public route gives (display names, state, uptime, load)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from common.api_models import Role
from dashboards.client import ApiError
from dashboards.components import alert, empty_state
from dashboards.context import api
from dashboards.status_format import format_generated, status_groups, status_summary

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/status", title="Status", name="Status"
)

# The API caches the page for a few seconds; visitors need not ask more often than this.
REFRESH_MS = 30_000
ADMIN_PATH = "/admin/status-page"


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id="status-interval", interval=REFRESH_MS),
            html.Div(id="status-body", className="tw-page"),
        ],
        className="tw-status-page",
    )


def _is_admin(session: dict[str, Any] | None) -> bool:
    return bool(session and session.get("token") and session.get("role") == Role.ADMIN.value)


@callback(
    Output("status-body", "children"),
    Input("status-interval", "n_intervals"),
    State("app-session", "data"),
)
def refresh(_: int | None, session: dict[str, Any] | None) -> Any:
    configure = (
        [dcc.Link("Choose what this page shows", href=ADMIN_PATH, className="tw-button tw-button-ghost")]
        if _is_admin(session)
        else []
    )
    try:
        page = api().status_page()
    except ApiError as exc:
        if exc.status == 404:
            return [
                empty_state("No public status page", "This site does not publish a status page."),
                *configure,
            ]
        return alert(f"The status could not be loaded: {exc.detail}")
    headline, level = status_summary(page)
    return [
        html.Div(
            [
                html.Div(
                    [
                        html.H1(page.title, id="status-title"),
                        html.Div(format_generated(page.generated_at), className="tw-muted tw-small"),
                    ]
                ),
                *configure,
            ],
            className="tw-page-head",
        ),
        html.Div(headline, id="status-headline", className=f"tw-status-headline tw-uptime-{level}"),
        *status_groups(page),
    ]
