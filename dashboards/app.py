"""The one wiring point of the dashboards: the Dash app, its shell and pages."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update

from common.settings import DashboardSettings, load_settings
from dashboards import admin_nav
from dashboards.client import ApiClient, ApiError
from dashboards.context import API_KEY, SETTINGS_KEY, token_of
from dashboards.theme import register_theme, theme_toggle

__all__ = ["LOGIN_PATH", "create_app"]

LOGIN_PATH = "/login"
STATUS_PATH = "/status"
# Pages a signed-out visitor may open.
PUBLIC_PATHS = (LOGIN_PATH, STATUS_PATH)
ALERT_BADGE_REFRESH_MS = 10_000
PAGES = Path(__file__).resolve().parent / "pages"


def _shell() -> html.Div:
    """What every page shares: session, location, top bar."""
    return html.Div(
        [
            dcc.Location(id="app-location", refresh="callback-nav"),
            # Per browser tab, gone when the tab closes; the API holds the real session.
            dcc.Store(id="app-session", storage_type="session"),
            dcc.Store(id="app-tz"),
            html.Header(
                [
                    dcc.Link(
                        [html.Span("≈", className="tw-logo"), "Tidewatch"], href="/", className="tw-brand"
                    ),
                    html.Nav(
                        [
                            dcc.Link("Fleet", href="/", className="tw-nav-link"),
                            dcc.Link("Alerts", href="/alerts", className="tw-nav-link"),
                            dcc.Link("Traffic", href="/traffic", className="tw-nav-link"),
                            dcc.Link("Billing", href="/billing", className="tw-nav-link"),
                            dcc.Link("Status", href=STATUS_PATH, className="tw-nav-link"),
                            *admin_nav.nav_links(),
                            dcc.Link(
                                "",
                                href="/alerts",
                                id="app-alerts-badge",
                                className="tw-alerts-badge is-quiet",
                            ),
                        ],
                        className="tw-nav",
                        id="app-nav",
                    ),
                    dcc.Interval(id="app-alerts-interval", interval=ALERT_BADGE_REFRESH_MS),
                    theme_toggle(),
                    html.Div(
                        [
                            html.Span(id="app-user", className="tw-user"),
                            html.Button(
                                "Sign out", id="app-logout", className="tw-button tw-button-ghost", n_clicks=0
                            ),
                        ],
                        id="app-account",
                        className="tw-account",
                        hidden=True,
                    ),
                ],
                className="tw-topbar",
            ),
            html.Main(dash.page_container, className="tw-main"),
        ],
        className="tw-app",
    )


def _register_shell_callbacks(app: Dash) -> None:
    # Registered on this app (not module-level) so every create_app() gets them.
    @app.callback(
        Output("app-location", "pathname"),
        Output("app-account", "hidden"),
        Output("app-nav", "hidden"),
        Output("app-user", "children"),
        Input("app-location", "pathname"),
        Input("app-session", "data"),
    )
    def guard(pathname: str | None, session: dict[str, Any] | None) -> tuple[Any, bool, bool, Any]:
        signed_in = token_of(session) is not None
        redirect: Any = no_update
        if not signed_in and pathname not in PUBLIC_PATHS:
            redirect = LOGIN_PATH
        elif signed_in and pathname == LOGIN_PATH:
            redirect = "/"
        user = (
            [html.Strong(session["username"]), html.Span(session["role"], className="tw-role")]
            if signed_in and session
            else ""
        )
        return redirect, not signed_in, not signed_in, user

    @app.callback(
        Output("app-session", "data", allow_duplicate=True),
        Input("app-logout", "n_clicks"),
        State("app-session", "data"),
        prevent_initial_call=True,
    )
    def logout(clicks: int | None, session: dict[str, Any] | None) -> Any:
        if not clicks:
            return no_update
        token = token_of(session)
        if token:
            # The session ends in the browser either way.
            with contextlib.suppress(ApiError):
                app.server.config[API_KEY].logout(token)
        return None

    @app.callback(
        Output("app-alerts-badge", "children"),
        Output("app-alerts-badge", "className"),
        Input("app-alerts-interval", "n_intervals"),
        Input("app-session", "data"),
    )
    def alerts_badge(_: int | None, session: dict[str, Any] | None) -> tuple[str, str]:
        token = token_of(session)
        if token is None:
            return "", "tw-alerts-badge is-quiet"
        try:
            summary = app.server.config[API_KEY].alert_summary(token)
        except ApiError:
            return "alerts ?", "tw-alerts-badge is-quiet"
        if summary.firing == 0:
            return "no alerts firing", "tw-alerts-badge is-quiet"
        return f"{summary.firing} firing", "tw-alerts-badge"

    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(_) { return -new Date().getTimezoneOffset(); }",
        Output("app-tz", "data"),
        Input("app-location", "pathname"),
    )


def create_app(settings: DashboardSettings | None = None) -> Dash:
    """Build the dashboards app; it talks only to the API at ``settings.api_url``."""
    settings = settings or load_settings(DashboardSettings, "TIDEWATCH_DASHBOARDS_")
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES),
        title="Tidewatch",
        update_title=None,  # type: ignore[arg-type]  # None turns "Updating..." off
        assets_folder=str(Path(__file__).resolve().parent / "assets"),
    )
    app.server.config[SETTINGS_KEY] = settings
    app.server.config[API_KEY] = ApiClient(settings.api_url)
    app.layout = _shell()
    _register_shell_callbacks(app)
    admin_nav.register(app)
    register_theme(app)
    return app
