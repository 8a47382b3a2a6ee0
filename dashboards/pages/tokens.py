"""Personal API tokens: create one with a name and an expiry (its secret is shown
once, with a copy button), list yours, revoke them. Admins also see and revoke
everyone's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from common.api_models import TokenCreated, TokenOut
from dashboards.admin_format import EXPIRY_CHOICES, format_local, token_expiry
from dashboards.admin_nav import is_admin
from dashboards.admin_parts import field, table
from dashboards.client import ApiError
from dashboards.components import alert, copy_block, panel
from dashboards.context import api, token_of

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/tokens", title="API tokens · Tidewatch", name="API tokens"
)

DEFAULT_DAYS = 30


def _create_form() -> html.Div:
    return html.Div(
        [
            field("Name", dcc.Input(id="tokens-name", className="tw-input", placeholder="backup script",
                                    maxLength=64, autoComplete="off")),
            field("Expires in", dcc.Dropdown([{"label": label, "value": days} for days, label in EXPIRY_CHOICES],
                                             DEFAULT_DAYS, id="tokens-days", clearable=False,
                                             className="tw-dropdown")),
            html.Button("Create token", id="tokens-create", n_clicks=0, className="tw-button tw-button-primary"),
        ],
        className="tw-admin-form",
    )  # fmt: skip


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="tokens-version", data=0),
            dcc.Store(id="tokens-pending"),
            dcc.ConfirmDialog(id="tokens-confirm"),
            html.Div(html.H1("API tokens"), className="tw-page-head"),
            html.P(
                "A token acts with your role until it expires or is revoked. Send it as "
                "Authorization: Bearer <token>. Resetting your password revokes all of them.",
                className="tw-muted",
            ),
            html.Div(
                [
                    html.Div(id="tokens-result", className="tw-admin-result"),
                    html.Div(id="tokens-secret"),
                    panel("New token", _create_form()),
                    panel("Your tokens", html.Div(id="tokens-own")),
                    html.Div(panel("Everyone's tokens", html.Div(id="tokens-all")), id="tokens-all-panel",
                             hidden=True),
                ],
                className="tw-admin-stack",
            ),
        ],
        className="tw-admin",
    )  # fmt: skip


def _revoke_button(token: TokenOut, where: str) -> html.Button:
    # ``where``: an admin sees their own tokens in both tables, and ids must be unique.
    return html.Button(
        "Revoke",
        id={"type": "tokens-revoke", "index": token.id, "label": token.name, "where": where},
        n_clicks=0,
        className="tw-button tw-button-danger tw-small",
    )


def _rows(tokens: list[TokenOut], tz: int | None, with_owner: bool) -> list[list[Any]]:
    now = datetime.now(UTC)
    rows = []
    for token in tokens:
        expiry, expired = token_expiry(token, now)
        row: list[Any] = [
            html.Strong(token.name),
            format_local(token.created_at, tz),
            html.Span(expiry, className="tw-admin-off" if expired else "", title=format_local(token.expires_at, tz)),
            format_local(token.last_used_at, tz) if token.last_used_at else "never",
            _revoke_button(token, "all" if with_owner else "own"),
        ]  # fmt: skip
        rows.append([token.username, *row] if with_owner else row)
    return rows


HEAD = ["Name", "Created", "Expires", "Last used", ""]


@callback(
    Output("tokens-own", "children"),
    Output("tokens-all", "children"),
    Output("tokens-all-panel", "hidden"),
    Input("tokens-version", "data"),
    Input("app-session", "data"),
    State("app-tz", "data"),
)
def load(_: int, session: dict[str, Any] | None, tz: int | None) -> tuple[Any, Any, bool]:
    token = token_of(session)
    if token is None:
        return no_update, no_update, True
    try:
        own = table(HEAD, _rows(api().list_tokens(token), tz, False), "tokens-own-table", "No tokens yet.")
        if not is_admin(session):
            return own, None, True
        everyone = api().list_all_tokens(token)
    except ApiError as exc:
        return alert(exc.detail), None, True
    rows = _rows(everyone, tz, True)
    return own, table(["Owner", *HEAD], rows, "tokens-all-table", "Nobody holds a token."), False


def _secret(made: TokenCreated, tz: int | None) -> html.Div:
    return html.Div(
        [
            html.Div(f"Token “{made.name}” created", className="tw-secret-title"),
            html.P(
                f"Copy it now: it is shown only this once. It expires {format_local(made.expires_at, tz)}.",
                className="tw-muted",
            ),
            copy_block(made.token, "tokens-secret-value"),
        ],
        className="tw-secret",
    )


@callback(
    Output("tokens-secret", "children"),
    Output("tokens-result", "children"),
    Output("tokens-version", "data"),
    Output("tokens-name", "value"),
    Input("tokens-create", "n_clicks"),
    State("tokens-name", "value"),
    State("tokens-days", "value"),
    State("tokens-version", "data"),
    State("app-session", "data"),
    State("app-tz", "data"),
    prevent_initial_call=True,
)
def create(
    clicks: int | None, name: str | None, days: int | None, version: int | None, session: Any, tz: int | None
) -> tuple[Any, ...]:
    token = token_of(session)
    if not clicks or token is None:
        return no_update, no_update, no_update, no_update
    try:
        made = api().create_token(token, name or "", int(days or DEFAULT_DAYS))
    except ApiError as exc:
        return None, alert(exc.detail), no_update, no_update
    return _secret(made, tz), None, (version or 0) + 1, ""


@callback(
    Output("tokens-pending", "data"),
    Output("tokens-confirm", "message"),
    Output("tokens-confirm", "displayed"),
    Input({"type": "tokens-revoke", "index": ALL, "label": ALL, "where": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def ask(_: list[int | None]) -> tuple[Any, Any, Any]:
    # Tables re-render with fresh buttons (n_clicks 0): only a real click asks.
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
        return no_update, no_update, no_update
    message = f"Revoke the token {trigger['label']!r}? Whatever uses it stops working at once."
    return {"id": trigger["index"], "label": trigger["label"]}, message, True


@callback(
    Output("tokens-result", "children", allow_duplicate=True),
    Output("tokens-version", "data", allow_duplicate=True),
    Input("tokens-confirm", "submit_n_clicks"),
    State("tokens-pending", "data"),
    State("tokens-version", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def revoke(
    clicks: int | None, pending: dict[str, Any] | None, version: int | None, session: Any
) -> tuple[Any, Any]:
    token = token_of(session)
    if not clicks or not pending or token is None:
        return no_update, no_update
    try:
        api().revoke_token(token, int(pending["id"]))
    except ApiError as exc:
        return alert(exc.detail), (version or 0) + 1
    return alert(f"Revoked the token {pending['label']!r}.", "success"), (version or 0) + 1
