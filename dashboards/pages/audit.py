"""The audit log (admins only): who did what, newest first, filtered by user, VPS and
action, a page at a time (keyset paging on the row id, as the API pages)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from common.records import AuditAction
from dashboards.admin_format import audit_detail, audit_filters, format_local, next_page
from dashboards.admin_nav import is_admin
from dashboards.admin_parts import admins_only, field, table
from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/admin/audit", title="Audit log · Tidewatch", name="Audit log"
)

PAGE_ROWS = 50
FIRST_PAGE: dict[str, Any] = {"before": [None], "n": 0}


def _filters() -> html.Div:
    return html.Div(
        [
            field("User", dcc.Dropdown(id="audit-user", placeholder="Anyone", className="tw-dropdown")),
            field("VPS", dcc.Dropdown(id="audit-vps", placeholder="Any VPS", className="tw-dropdown")),
            field("Action", dcc.Dropdown([a.value for a in AuditAction], id="audit-action",
                                         placeholder="Any action", className="tw-dropdown")),
        ],
        className="tw-admin-form",
    )  # fmt: skip


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            # "before": the before_id of each page seen so far (None = newest); the last is shown.
            dcc.Store(id="audit-page", data=FIRST_PAGE),
            dcc.Store(id="audit-last-id"),
            html.Div(html.H1("Audit log"), className="tw-page-head"),
            html.Div(id="audit-denied"),
            html.Div(
                [
                    panel("Filter", _filters()),
                    panel(
                        "Entries",
                        html.Div(id="audit-table-wrap"),
                        extra=html.Div(
                            [
                                html.Button("Newer", id="audit-newer", n_clicks=0,
                                            className="tw-button tw-button-ghost tw-small"),
                                html.Span(id="audit-page-label", className="tw-muted tw-small"),
                                html.Button("Older", id="audit-older", n_clicks=0,
                                            className="tw-button tw-button-ghost tw-small"),
                            ],
                            className="tw-admin-pager",
                        ),
                    ),
                ],
                id="audit-admin",
                className="tw-admin-stack",
                hidden=True,
            ),
        ],
        className="tw-admin",
    )  # fmt: skip


@callback(
    Output("audit-user", "options"),
    Output("audit-vps", "options"),
    Output("audit-denied", "children"),
    Output("audit-admin", "hidden"),
    Input("app-session", "data"),
)
def choices(session: dict[str, Any] | None) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None:
        return no_update, no_update, no_update, True
    if not is_admin(session):
        return [], [], admins_only("The audit log"), True
    try:
        users = [{"label": u.username, "value": u.id} for u in api().list_users(token)]
        servers = [{"label": v.name, "value": v.id} for v in api().list_vps(token)]
    except ApiError as exc:
        return [], [], alert(exc.detail), False
    return users, servers, None, False


@callback(
    Output("audit-page", "data"),
    Input("audit-user", "value"),
    Input("audit-vps", "value"),
    Input("audit-action", "value"),
    Input("audit-older", "n_clicks"),
    Input("audit-newer", "n_clicks"),
    State("audit-page", "data"),
    State("audit-last-id", "data"),
    prevent_initial_call=True,
)
def turn(*args: Any) -> dict[str, Any]:
    page, last_id = args[5] or FIRST_PAGE, args[6]
    move = ctx.triggered_id if ctx.triggered_id in ("audit-older", "audit-newer") else "filter"
    # "n" changes every time, so the table reloads even when the stack does not.
    return {"before": next_page(page["before"], move.removeprefix("audit-"), last_id), "n": page["n"] + 1}


@callback(
    Output("audit-table-wrap", "children"),
    Output("audit-last-id", "data"),
    Output("audit-page-label", "children"),
    Output("audit-newer", "disabled"),
    Output("audit-older", "disabled"),
    Input("audit-page", "data"),
    Input("audit-admin", "hidden"),
    State("audit-user", "value"),
    State("audit-vps", "value"),
    State("audit-action", "value"),
    State("app-session", "data"),
    State("app-tz", "data"),
)
def show(page: dict[str, Any] | None, hidden: bool, *args: Any) -> tuple[Any, ...]:
    user_id, vps_id, action, session, tz = args
    token = token_of(session)
    if token is None or hidden:
        return None, None, "", True, True
    before = (page or FIRST_PAGE)["before"]
    try:
        entries = api().audit_log(token, audit_filters(user_id, vps_id, action, before[-1], PAGE_ROWS))
    except ApiError as exc:
        return alert(exc.detail), None, "", True, True
    rows = [
        [format_local(e.time, tz), e.actor, html.Code(e.action), e.target, audit_detail(e), e.client_ip]
        for e in entries
    ]
    body = table(
        ["Time", "Who", "Action", "Target", "Detail", "From"], rows, "audit-table", "No entries match."
    )
    label = f"page {len(before)}"
    return body, entries[-1].id if entries else None, label, len(before) == 1, len(entries) < PAGE_ROWS
