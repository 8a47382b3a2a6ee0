"""One server: host facts, then (top to bottom) live values, history over a chosen
range, and operations. Each section is its own module; this page only composes them.

History (``dashboards.history``) reads its range from this page's URL query
(``?range=6h`` or ``?from=…&to=…``), so a link reproduces the view.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.client import ApiError
from dashboards.components import alert, secret_panel, vps_header
from dashboards.context import api, settings, token_of
from dashboards.history.callbacks import CALLBACKS as HISTORY_CALLBACKS
from dashboards.history.layout import history_section
from dashboards.live_view import live_section
from dashboards.operations import CALLBACKS as OPERATIONS_CALLBACKS
from dashboards.operations import operations_section
from dashboards.vps_empty import agent_missing

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/vps/<vps_id>", title="Server · Tidewatch", name="Server"
)
HISTORY_CALLBACKS.register()
OPERATIONS_CALLBACKS.register()

WRITERS = ("operator", "admin")
# Facts and status (last seen, uptime): at most this old.
HEADER_REFRESH_MS = 15_000


def _actions() -> html.Div:
    return html.Div(
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
    )


def layout(vps_id: str | None = None, **query: Any) -> html.Div:
    """The detail page of VPS ``vps_id``; ``query`` is the URL's query string (the history range)."""
    number = int(vps_id) if vps_id and vps_id.isdigit() else None
    return html.Div(
        [
            dcc.Store(id="vps-id", data=number),
            dcc.Interval(id="vps-interval", interval=max(settings().live_refresh_ms, HEADER_REFRESH_MS)),
            dcc.Link("← Fleet", href="/", className="tw-back"),
            html.Div(id="vps-header", className="tw-detail-head"),
            _actions(),
            html.Div(id="vps-token-panel"),
            html.Div(id="vps-empty"),
            live_section(number),
            history_section(query),
            operations_section(),
        ],
        className="tw-page",
    )


@callback(
    Output("vps-header", "children"),
    Output("vps-history", "hidden"),
    Output("vps-empty", "children"),
    Output("app-session", "data", allow_duplicate=True),
    Input("vps-interval", "n_intervals"),
    # Shell stores are State: as Inputs they would fire this callback on other pages.
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call="initial_duplicate",
)
def refresh_header(_: int | None, vps_id: int | None, session: dict[str, Any] | None) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None:
        return (no_update,) * 4
    if vps_id is None:
        return alert("There is no such server."), True, None, no_update
    try:
        vps = api().get_vps(token, vps_id)
    except ApiError as exc:
        if exc.unauthorized:
            return no_update, no_update, no_update, None
        return alert(exc.detail), True, None, no_update
    if vps.latest is None and vps.last_seen is None:
        empty = agent_missing(api(), token, session.get("role") if session else None)
        return vps_header(vps), True, empty, no_update
    return vps_header(vps), False, None, no_update


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
