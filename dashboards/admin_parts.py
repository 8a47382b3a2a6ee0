"""Building blocks the admin pages share: labelled fields, tables that scroll on a
phone, and the notice a non-admin sees. Pure: data in, Dash components out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html
from dash.development.base_component import Component

from dashboards.components import alert

__all__ = ["admins_only", "field", "table"]


def field(label: str, control: Any) -> html.Div:
    """``control`` under its label (``control`` must have an id)."""
    return html.Div([html.Label(label, htmlFor=control.id), control], className="tw-admin-field")


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str, empty: str) -> Component:
    """A plain table that scrolls sideways inside its panel instead of widening the page."""
    if not rows:
        return html.P(empty, className="tw-muted", id=table_id)
    return html.Div(
        html.Table(
            [
                html.Thead(html.Tr([html.Th(title) for title in head])),
                html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
            ],
            className="tw-admin-table",
            id=table_id,
        ),
        className="tw-admin-scroll",
    )


def admins_only(what: str) -> html.Div:
    """What a signed-in non-admin sees instead of an admin page."""
    return alert(f"{what} is for admins. Ask an admin if you need a change.", "warning")
