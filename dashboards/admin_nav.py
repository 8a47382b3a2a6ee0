"""The account links in the top bar: API tokens for everyone, Users and Audit log for admins.

Hiding the admin links is a courtesy, not the guard: the API refuses non-admins (403)
and the admin pages say so."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dcc, html

__all__ = ["ADMIN_ROLE", "is_admin", "nav_links", "register"]

ADMIN_ROLE = "admin"


def is_admin(session: dict[str, Any] | None) -> bool:
    """Whether the signed-in user is an admin (as of sign-in; the API checks each call)."""
    return session is not None and session.get("role") == ADMIN_ROLE


def nav_links() -> list[Any]:
    """Links to place in the top bar's nav."""
    return [
        dcc.Link("API tokens", href="/tokens", className="tw-nav-link"),
        html.Span(
            [
                dcc.Link("Users", href="/admin/users", className="tw-nav-link"),
                dcc.Link("Audit log", href="/admin/audit", className="tw-nav-link"),
                dcc.Link("Settings", href="/settings", className="tw-nav-link"),
            ],
            id="app-admin-links",
            className="tw-nav-group",
            hidden=True,
        ),
    ]


def register(app: Dash) -> None:
    """Show the admin links to admins only (registered on each app, like the shell's)."""

    @app.callback(Output("app-admin-links", "hidden"), Input("app-session", "data"))
    def hide_admin_links(session: dict[str, Any] | None) -> bool:
        return not is_admin(session)
