"""Sign in, or create a viewer account where the API allows registration."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.client import ApiError
from dashboards.components import alert
from dashboards.context import api

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/login", title="Sign in · Tidewatch", name="Sign in"
)

MODES = [{"label": "Sign in", "value": "login"}, {"label": "Create account", "value": "register"}]


def layout(**_: Any) -> html.Div:
    """The sign-in card."""
    return html.Div(
        html.Div(
            [
                html.Div(
                    [html.Span("≈", className="tw-logo tw-logo-large"), html.H1("Tidewatch")],
                    className="tw-auth-brand",
                ),
                html.P("Fleet monitoring, second by second.", className="tw-muted tw-auth-tagline"),
                dcc.RadioItems(
                    MODES,
                    "login",
                    id="login-mode",
                    inline=True,
                    className="tw-segmented",
                    inputClassName="tw-segmented-input",
                ),
                html.Form(
                    [
                        html.Label("Username", htmlFor="login-username"),
                        dcc.Input(
                            id="login-username",
                            type="text",
                            autoComplete="username",
                            className="tw-input",
                            debounce=False,
                        ),
                        html.Label("Password", htmlFor="login-password"),
                        dcc.Input(
                            id="login-password",
                            type="password",
                            autoComplete="current-password",
                            className="tw-input",
                            n_submit=0,
                        ),
                        html.Div(id="login-hint", className="tw-muted tw-small"),
                        html.Button(
                            "Sign in",
                            id="login-submit",
                            className="tw-button tw-button-primary tw-wide",
                            n_clicks=0,
                            type="button",
                        ),
                        html.Div(id="login-error"),
                    ],
                    className="tw-form",
                    id="login-form",
                ),
            ],
            className="tw-card tw-auth-card",
        ),
        className="tw-auth",
    )


@callback(
    Output("login-submit", "children"),
    Output("login-hint", "children"),
    Input("login-mode", "value"),
)
def switch_mode(mode: str) -> tuple[str, str]:
    if mode == "register":
        return "Create account", "New accounts can view the fleet; an admin can grant more."
    return "Sign in", ""


@callback(
    Output("app-session", "data", allow_duplicate=True),
    Output("login-error", "children"),
    Input("login-submit", "n_clicks"),
    Input("login-password", "n_submit"),
    State("login-mode", "value"),
    State("login-username", "value"),
    State("login-password", "value"),
    prevent_initial_call=True,
)
def submit(
    clicks: int | None, submits: int | None, mode: str, username: str | None, password: str | None
) -> tuple[Any, Any]:
    if not clicks and not submits:
        return no_update, no_update
    if not username or not password:
        return no_update, alert("Enter a username and a password.")
    client = api()
    try:
        if mode == "register":
            client.register(username, password)
        session = client.login(username, password)
    except ApiError as exc:
        return no_update, alert(exc.detail[:1].upper() + exc.detail[1:])
    return {
        "token": session.token,
        "username": session.user.username,
        "role": session.user.role.value,
        "expires_at": session.expires_at.isoformat(),
    }, None
