"""Users (admins only): list, add, change role, disable or enable, reset a password.

A reset password or a disabled account ends that user's sessions and personal
API tokens at once (the API does it; docs/api.md)."""

from __future__ import annotations

from typing import Any

import dash
import msgspec
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from common.api_models import Role, UserOut
from dashboards.admin_format import format_local
from dashboards.admin_nav import is_admin
from dashboards.admin_parts import admins_only, field, table
from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/admin/users", title="Users · Tidewatch", name="Users"
)

ROLES = [role.value for role in Role]


def _add_form() -> html.Div:
    return html.Div(
        [
            field("Username", dcc.Input(id="users-new-name", className="tw-input", autoComplete="off")),
            field("Password (8+ characters)", dcc.Input(id="users-new-password", type="password",
                                                        className="tw-input", autoComplete="new-password")),
            field("Role", dcc.Dropdown(ROLES, Role.VIEWER.value, id="users-new-role", clearable=False,
                                       className="tw-dropdown")),
            html.Button("Add user", id="users-add", n_clicks=0, className="tw-button tw-button-primary"),
        ],
        className="tw-admin-form",
    )  # fmt: skip


def _manage_form() -> html.Div:
    return html.Div(
        [
            field("User", dcc.Dropdown(id="users-pick", placeholder="Pick a user", className="tw-dropdown")),
            field("Role", dcc.Dropdown(ROLES, id="users-role", clearable=False, className="tw-dropdown")),
            html.Button("Save role", id="users-save-role", n_clicks=0, className="tw-button tw-button-ghost"),
            html.Button("Disable", id="users-toggle", n_clicks=0, className="tw-button tw-button-danger"),
            field("New password", dcc.Input(id="users-reset-password", type="password", className="tw-input",
                                            autoComplete="new-password")),
            html.Button("Reset password", id="users-reset", n_clicks=0, className="tw-button tw-button-ghost"),
        ],
        className="tw-admin-form",
    )  # fmt: skip


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="users-version", data=0),
            dcc.Store(id="users-data"),
            html.Div(html.H1("Users"), className="tw-page-head"),
            html.Div(id="users-denied"),
            html.Div(
                [
                    html.Div(id="users-result", className="tw-admin-result"),
                    panel("Add a user", _add_form()),
                    panel("Change a user", _manage_form()),
                    panel("Everyone", html.Div(id="users-table-wrap")),
                ],
                id="users-admin",
                className="tw-admin-stack",
                hidden=True,
            ),
        ],
        className="tw-admin",
    )


def _rows(users: list[UserOut], tz_offset_min: int | None) -> list[list[Any]]:
    return [
        [
            html.Strong(user.username),
            html.Span(user.role.value, className="tw-role"),
            html.Span("disabled", className="tw-admin-off") if user.disabled else "enabled",
            format_local(user.created_at, tz_offset_min),
        ]
        for user in users
    ]


@callback(
    Output("users-data", "data"),
    Output("users-table-wrap", "children"),
    Output("users-pick", "options"),
    Output("users-denied", "children"),
    Output("users-admin", "hidden"),
    Input("users-version", "data"),
    Input("app-session", "data"),
    State("app-tz", "data"),
)
def load(_: int, session: dict[str, Any] | None, tz_offset_min: int | None) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None:
        return no_update, no_update, no_update, no_update, True
    if not is_admin(session):
        return None, None, [], admins_only("Managing users"), True
    try:
        users = api().list_users(token)
    except ApiError as exc:
        return None, alert(exc.detail), [], None, False
    head = ["User", "Role", "Status", "Created"]
    options = [{"label": f"{u.username} ({u.role.value})", "value": u.id} for u in users]
    body = table(head, _rows(users, tz_offset_min), "users-table", "No users yet.")
    return msgspec.to_builtins(users), body, options, None, False


@callback(
    Output("users-role", "value"),
    Output("users-toggle", "children"),
    Input("users-pick", "value"),
    Input("users-data", "data"),
)
def pick(user_id: int | None, users: list[dict[str, Any]] | None) -> tuple[Any, str]:
    chosen = next((u for u in users or [] if u["id"] == user_id), None)
    if chosen is None:
        return None, "Disable"
    return chosen["role"], "Enable" if chosen["disabled"] else "Disable"


def _apply(token: str, trigger: str, values: dict[str, Any], users: list[dict[str, Any]]) -> str:
    """Run one change through the API; the sentence to show when it worked."""
    if trigger == "users-add":
        made = api().create_user(token, values["name"] or "", values["password"] or "", values["new_role"])
        return f"Added {made.username} as {made.role.value}."
    chosen = next((u for u in users if u["id"] == values["user_id"]), None)
    if chosen is None:
        raise ApiError(422, "pick a user first")
    name = chosen["username"]
    if trigger == "users-save-role":
        api().update_user(token, chosen["id"], {"role": values["role"]})
        return f"{name} is now {values['role']}."
    if trigger == "users-toggle":
        changed = api().update_user(token, chosen["id"], {"disabled": not chosen["disabled"]})
        return f"{name} is {'disabled: their sessions and tokens are revoked' if changed.disabled else 'enabled'}."
    api().update_user(token, chosen["id"], {"password": values["password_reset"] or ""})
    return f"{name}'s password is reset; their sessions and API tokens are revoked."


@callback(
    Output("users-result", "children"),
    Output("users-version", "data"),
    Output("users-new-password", "value"),
    Output("users-reset-password", "value"),
    Input("users-add", "n_clicks"),
    Input("users-save-role", "n_clicks"),
    Input("users-toggle", "n_clicks"),
    Input("users-reset", "n_clicks"),
    State("users-new-name", "value"),
    State("users-new-password", "value"),
    State("users-new-role", "value"),
    State("users-pick", "value"),
    State("users-role", "value"),
    State("users-reset-password", "value"),
    State("users-data", "data"),
    State("users-version", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def act(*args: Any) -> tuple[Any, ...]:
    name, password, new_role, user_id, role, password_reset, users, version, session = args[4:]
    token = token_of(session)
    trigger = ctx.triggered_id
    if token is None or not isinstance(trigger, str) or not (ctx.triggered and ctx.triggered[0]["value"]):
        return no_update, no_update, no_update, no_update
    values = {"name": name, "password": password, "new_role": new_role, "user_id": user_id, "role": role,
              "password_reset": password_reset}  # fmt: skip
    try:
        done = _apply(token, trigger, values, users or [])
    except ApiError as exc:
        return alert(exc.detail), no_update, no_update, no_update
    # Passwords leave the page once used.
    return alert(done, "success"), (version or 0) + 1, "", ""
