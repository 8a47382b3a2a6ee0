"""``/admin/status-page``: admins choose whether the public status page is on, and
which servers it shows, in which groups, under which public names."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of
from dashboards.status_format import DEFAULT_GROUP, AdminRow, admin_rows, config_body

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/admin/status-page", title="Status page setup · Tidewatch", name="Status page setup"
)

ON = "on"


def layout(**_: Any) -> html.Div:
    form = html.Div(
        [
            dcc.Checklist(
                [{"label": "Publish the status page at /status", "value": ON}], [], id="status-admin-enabled"
            ),
            html.Div(
                [
                    html.Label("Page title", htmlFor="status-admin-title"),
                    dcc.Input(id="status-admin-title", className="tw-input", maxLength=128),
                ],
                className="tw-form",
            ),
            html.Div(id="status-admin-servers", className="tw-table-scroll"),
            html.Button("Save", id="status-admin-save", className="tw-button tw-button-primary", n_clicks=0),
            html.Div(id="status-admin-result"),
        ],
        className="tw-form",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.H1("Public status page"),
                            html.P(
                                "Visitors see only the display names, state, uptime and load.",
                                className="tw-muted",
                            ),
                        ]
                    ),
                    dcc.Link("Open the page", href="/status", className="tw-button tw-button-ghost"),
                ],
                className="tw-page-head",
            ),
            panel("Setup", form),
        ],
        className="tw-page",
    )


def _row(row: AdminRow) -> html.Tr:
    key = {"vps": row.vps_id}
    return html.Tr(
        [
            html.Td(
                dcc.Checklist(
                    [{"label": row.vps_name, "value": ON}],
                    [ON] if row.shown else [],
                    id={"type": "status-admin-show", **key},
                )
            ),
            html.Td(
                dcc.Input(
                    value=row.group,
                    placeholder=DEFAULT_GROUP,
                    className="tw-input",
                    maxLength=128,
                    id={"type": "status-admin-group", **key},
                )
            ),
            html.Td(
                dcc.Input(
                    value=row.display_name,
                    placeholder="Server N",
                    className="tw-input",
                    maxLength=128,
                    id={"type": "status-admin-name", **key},
                )
            ),
        ]
    )


@callback(
    Output("status-admin-enabled", "value"),
    Output("status-admin-title", "value"),
    Output("status-admin-servers", "children"),
    Input("app-session", "data"),
)
def load(session: dict[str, Any] | None) -> Any:
    token = token_of(session)
    if token is None:
        return no_update, no_update, no_update
    try:
        config = api().status_page_config(token)
        fleet = [(v.id, v.name) for v in api().list_vps(token)]
    except ApiError as exc:
        return no_update, no_update, alert(f"Could not load the status page's setup: {exc.detail}")
    head = html.Thead(html.Tr([html.Th("Show (private name)"), html.Th("Group"), html.Th("Public name")]))
    table = html.Table(
        [head, html.Tbody([_row(r) for r in admin_rows(config, fleet)])],
        className="tw-table",
        id="status-admin-table",
    )
    return [ON] if config.enabled else [], config.title, table


@callback(
    Output("status-admin-result", "children"),
    Input("status-admin-save", "n_clicks"),
    State("status-admin-enabled", "value"),
    State("status-admin-title", "value"),
    State({"type": "status-admin-show", "vps": ALL}, "value"),
    State({"type": "status-admin-group", "vps": ALL}, "value"),
    State({"type": "status-admin-name", "vps": ALL}, "value"),
    State({"type": "status-admin-show", "vps": ALL}, "id"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def save(
    clicks: int | None,
    enabled: list[str] | None,
    title: str | None,
    shown: list[list[str] | None],
    groups: list[str | None],
    names: list[str | None],
    ids: list[dict[str, Any]],
    session: dict[str, Any] | None,
) -> Any:
    token = token_of(session)
    if not clicks or token is None:
        return no_update
    rows = [
        AdminRow(key["vps"], "", ON in (show or []), group or "", name or "")
        for key, show, group, name in zip(ids, shown, groups, names, strict=True)
    ]
    try:
        saved = api().put_status_page_config(token, config_body(ON in (enabled or []), title or "", rows))
    except ApiError as exc:
        return alert(f"Not saved: {exc.detail}")
    count = sum(len(g.servers) for g in saved.groups)
    state = "published" if saved.enabled else "not published"
    return alert(f"Saved: {count} servers in {len(saved.groups)} groups; the page is {state}.", "success")
