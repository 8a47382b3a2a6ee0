"""Settings for admins: registration, where new agents connect, and retention (shown)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from common.api_models.settings import RetentionOut, ServerSettingsOut
from dashboards.client import ApiError
from dashboards.components import alert, copy_block
from dashboards.context import api, token_of
from dashboards.settings_format import keep_text

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/settings", title="Settings · Tidewatch", name="Settings"
)

ON = "on"
# Form fields in the order the callbacks read and write them.
FIELDS = (
    ("settings-registration", "value"),
    ("settings-api-url", "value"),
    ("settings-collector-host", "value"),
    ("settings-collector-port", "value"),
    ("settings-collector-tls", "value"),
    ("settings-collector-ca", "value"),
)


def _field(label: str, control: Any, hint: str = "") -> html.Div:
    children = [html.Label(label, htmlFor=control.id), control]
    if hint:
        children.append(html.Span(hint, className="tw-muted"))
    return html.Div(children)


def layout(**_: Any) -> html.Div:
    """The form (filled in once the settings load), the install command it gives, retention."""
    return html.Div(
        [
            html.Div(html.H1("Settings"), className="tw-page-head"),
            html.Div(id="settings-denied"),
            html.Div(
                [
                    html.H3("Accounts"),
                    dcc.Checklist(
                        [{"label": " anyone may create a viewer account (Create account on the sign-in page)",
                          "value": ON}],
                        [],
                        id="settings-registration",
                    ),
                    html.H3("Installing agents"),
                    html.P(
                        "\"Add server\" gives a command that fetches the install script from the public "
                        "API URL; the script points the agent at this collector address.",
                        className="tw-muted",
                    ),
                    html.Div(
                        [
                            _field("Public API URL", dcc.Input(id="settings-api-url", className="tw-input"), "as the servers reach it"),
                            _field("Collector host", dcc.Input(id="settings-collector-host",
                                                               className="tw-input")),
                            _field("Collector port", dcc.Input(id="settings-collector-port", type="number",
                                                               min=1, max=65535, className="tw-input")),
                        ],
                        className="tw-form-row",
                    ),
                    dcc.Checklist([{"label": " the collector speaks TLS", "value": ON}], [],
                                  id="settings-collector-tls"),
                    _field(
                        "Collector CA (PEM, optional)",
                        dcc.Textarea(id="settings-collector-ca", className="tw-input tw-json",
                                     placeholder="-----BEGIN CERTIFICATE-----"),
                        "empty: the servers' own trusted CAs",
                    ),
                    html.Div(html.Button("Save", id="settings-save", className="tw-button tw-button-primary",
                                         n_clicks=0)),
                    html.Div(id="settings-message"),
                    html.Label("The install command, for a token"),
                    html.Div(id="settings-command"),
                    html.H3("Retention"),
                    html.P("Changed with tidewatch-admin set-retention.", className="tw-muted"),
                    html.Div(id="settings-retention"),
                    html.Div(id="settings-updated", className="tw-muted"),
                ],
                id="settings-form",
                className="tw-card tw-form",
                hidden=True,
            ),
        ],
        className="tw-page",
    )  # fmt: skip


def _retention_table(rows: list[RetentionOut]) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th("Table or rollup"), html.Th("Kept for")])),
            html.Tbody([html.Tr([html.Td(r.relation), html.Td(keep_text(r.keep_seconds))]) for r in rows]),
        ],
        className="tw-table",
        id="settings-retention-table",
    )


def _shown(current: ServerSettingsOut) -> tuple[Any, ...]:
    updated = (
        f"Last changed by {current.updated_by}" if current.updated_by else "Environment defaults in force"
    )
    return (
        [ON] if current.allow_registration else [],
        current.public_api_url,
        current.collector_host,
        current.collector_port,
        [ON] if current.collector_tls else [],
        current.collector_ca_pem,
        copy_block(current.install_command_example, "settings-command-text"),
        _retention_table(current.retention),
        updated,
    )


_SHOWN_OUTPUTS = [
    *(Output(component, prop, allow_duplicate=True) for component, prop in FIELDS),
    Output("settings-command", "children", allow_duplicate=True),
    Output("settings-retention", "children", allow_duplicate=True),
    Output("settings-updated", "children", allow_duplicate=True),
]


@callback(
    Output("settings-form", "hidden"),
    Output("settings-denied", "children"),
    *_SHOWN_OUTPUTS,
    Input("app-session", "data"),
    prevent_initial_call="initial_duplicate",
)
def load(session: dict[str, Any] | None) -> tuple[Any, ...]:
    nothing = (no_update,) * len(_SHOWN_OUTPUTS)
    token = token_of(session)
    if token is None or not session:
        return True, no_update, *nothing
    if session.get("role") != "admin":
        return True, alert("Only admins see and change the settings.", "warning"), *nothing
    try:
        current = api().get_settings(token)
    except ApiError as exc:
        return True, alert(f"Could not load the settings: {exc.detail}"), *nothing
    return False, None, *_shown(current)


@callback(
    Output("settings-message", "children"),
    *_SHOWN_OUTPUTS,
    Input("settings-save", "n_clicks"),
    *(State(component, prop) for component, prop in FIELDS),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def save(
    clicks: int | None,
    registration: list[str] | None,
    api_url: str | None,
    host: str | None,
    port: int | float | None,
    tls: list[str] | None,
    ca_pem: str | None,
    session: dict[str, Any] | None,
) -> tuple[Any, ...]:
    nothing = (no_update,) * len(_SHOWN_OUTPUTS)
    token = token_of(session)
    if not clicks or token is None:
        return no_update, *nothing
    if port is None or int(port) != port:
        return alert("Collector port: a whole number from 1 to 65535."), *nothing
    body = {
        "allow_registration": ON in (registration or []),
        "public_api_url": (api_url or "").strip(),
        "collector_host": (host or "").strip(),
        "collector_port": int(port),
        "collector_tls": ON in (tls or []),
        "collector_ca_pem": (ca_pem or "").strip() + ("\n" if (ca_pem or "").strip() else ""),
    }
    try:
        current = api().update_settings(token, body)
    except ApiError as exc:
        return alert(exc.detail), *nothing
    return alert("Saved. New install commands use these values.", "success"), *_shown(current)
