"""The fleet page's view controls and their callbacks: cards or table, search, label
filter, sort, group and pages, all mirrored in the URL's query string.

The page's refresh puts the fleet, as compact ``FleetRow`` arrays, in the
``fleet-rows`` store; one callback here draws the visible page from it. There are no
per-card callbacks: a change of data or of a control is one round trip and one render.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import plotly.utils
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import alert, empty_state
from dashboards.deferred import DeferredCallbacks
from dashboards.fleet_render import fleet_cards, fleet_table
from dashboards.fleet_view import (
    SORT_KEYS,
    FleetQuery,
    FleetRow,
    View,
    apply_query,
    label_keys,
    label_pairs,
    page_of,
    parse_label_filter,
    query_string,
)

__all__ = [
    "BIG_FLEET",
    "CALLBACKS",
    "PER_PAGE",
    "controls",
    "drawn_digest",
    "encode_rows",
    "group_options",
    "label_suggestions",
]

CALLBACKS = DeferredCallbacks()
# Past this many servers, a browser with no remembered choice starts in the table.
BIG_FLEET = 60
# Rows drawn at once; bench/fleet_render.py measured what a page costs at 500 servers.
PER_PAGE: dict[View, int] = {"cards": 48, "table": 50}
_SORT_LABELS = {"name": "Name", "cpu": "CPU", "memory": "Memory", "disk": "Disk", "network": "Network"}
_FIELDS = ("fleet-search", "fleet-labels", "fleet-sort", "fleet-group")


def encode_rows(rows: list[FleetRow]) -> list[Any]:
    """What the ``fleet-rows`` store holds: each row as a JSON array."""
    return msgspec.to_builtins(rows)  # type: ignore[no-any-return]


def drawn_digest(body: Any) -> str:
    """A digest of a draw, to leave the page alone when a poll brings nothing new."""
    encoded = json.dumps(body, cls=plotly.utils.PlotlyJSONEncoder, sort_keys=True).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def _decode_rows(data: list[Any]) -> list[FleetRow]:
    return msgspec.convert(data, list[FleetRow])


def group_options(rows: list[FleetRow], current: str | None) -> list[dict[str, str]]:
    """The label keys to group by; the chosen one stays listed even if no server has it now."""
    keys = label_keys(rows)
    if current and current not in keys:
        keys.append(current)
    return [{"label": key, "value": key} for key in keys]


def label_suggestions(rows: list[FleetRow]) -> list[html.Option]:
    return [html.Option(value=pair) for pair in label_pairs(rows)]


def _segmented(options: list[dict[str, str]], value: str | None, control_id: str) -> dcc.RadioItems:
    return dcc.RadioItems(
        options,
        value,
        id=control_id,
        inline=True,
        className="tw-segmented",
        inputClassName="tw-segmented-input",
    )


def controls(query: FleetQuery) -> html.Div:
    """The toolbar, set as ``query`` (from the URL) says, and the stores behind it."""
    return html.Div(
        [
            dcc.Store(id="fleet-rows"),
            dcc.Store(id="fleet-size"),
            dcc.Store(id="fleet-page", data=query.page),
            dcc.Store(id="fleet-per-page", data=query.per_page),
            dcc.Store(id="fleet-url"),
            dcc.Store(id="fleet-drawn"),
            # The choice of cards or table, kept in this browser across visits.
            dcc.Store(id="fleet-view-pref", storage_type="local"),
            html.Datalist(id="fleet-label-options"),
            html.Div(
                [
                    dcc.Input(
                        id="fleet-search",
                        type="search",
                        value=query.search,
                        placeholder="Search name, host, address, label",
                        debounce=0.3,
                        className="tw-input tw-fleet-search",
                    ),
                    dcc.Input(
                        id="fleet-labels",
                        value=query.labels,
                        placeholder="Labels: env=prod, role=web",
                        list="fleet-label-options",
                        debounce=0.4,
                        className="tw-input tw-fleet-label-input",
                    ),
                    dcc.Dropdown(
                        [{"label": query.group, "value": query.group}] if query.group else [],
                        query.group or None,
                        id="fleet-group",
                        placeholder="Group by label",
                        clearable=True,
                        className="tw-dropdown tw-fleet-group-by",
                    ),
                ],
                className="tw-fleet-filters",
            ),
            html.Div(
                [
                    html.Span("Sort", className="tw-muted tw-small"),
                    _segmented(
                        [{"label": _SORT_LABELS[key], "value": key} for key in SORT_KEYS],
                        query.sort,
                        "fleet-sort",
                    ),
                    _segmented(
                        [{"label": "Cards", "value": "cards"}, {"label": "Table", "value": "table"}],
                        query.view,
                        "fleet-view",
                    ),
                ],
                className="tw-fleet-order",
            ),
            html.Div(id="fleet-label-error"),
            html.Div(
                [
                    html.Span(id="fleet-count", className="tw-muted tw-small"),
                    html.Div(
                        [
                            html.Button("Previous", id="fleet-prev", className="tw-button tw-button-ghost"),
                            html.Span(id="fleet-page-info", className="tw-muted tw-small"),
                            html.Button("Next", id="fleet-next", className="tw-button tw-button-ghost"),
                        ],
                        id="fleet-pager",
                        className="tw-fleet-pager",
                        hidden=True,
                    ),
                ],
                className="tw-fleet-countbar",
            ),
        ],
        className="tw-fleet-toolbar",
    )


@CALLBACKS.callback(
    Output("fleet-view", "value"),
    Output("fleet-view-pref", "data"),
    Input("fleet-view", "value"),
    Input("fleet-view-pref", "data"),
    Input("fleet-size", "data"),
)
def choose_view(view: str | None, remembered: str | None, size: int | None) -> tuple[Any, Any]:
    """A click on the toggle is remembered; a page opened without ``view`` in its URL
    takes the remembered choice, or the table when the fleet is big."""
    if ctx.triggered_id == "fleet-view" and view:
        return no_update, view
    if view:
        return no_update, no_update
    if remembered in ("cards", "table"):
        return remembered, no_update
    if size is None:
        return no_update, no_update  # the fleet's size decides: wait for it
    return ("table" if size > BIG_FLEET else "cards"), no_update


def _page_number(page: int | None, last_url: str | None) -> int:
    trigger = ctx.triggered_id
    page = page or 1
    if trigger == "fleet-prev":
        return max(1, page - 1)
    if trigger == "fleet-next":
        return page + 1
    # A changed filter starts again at page 1; the first draw keeps the URL's page.
    if trigger in _FIELDS or (trigger == "fleet-view" and last_url is not None):
        return 1
    return page


@CALLBACKS.callback(
    Output("fleet-grid", "children"),
    Output("fleet-grid", "className"),
    Output("fleet-page", "data"),
    Output("fleet-url", "data"),
    Output("fleet-count", "children"),
    Output("fleet-pager", "hidden"),
    Output("fleet-prev", "disabled"),
    Output("fleet-next", "disabled"),
    Output("fleet-page-info", "children"),
    Output("fleet-label-error", "children"),
    Output("fleet-drawn", "data"),
    Input("fleet-rows", "data"),
    Input("fleet-view", "value"),
    Input("fleet-search", "value"),
    Input("fleet-labels", "value"),
    Input("fleet-sort", "value"),
    Input("fleet-group", "value"),
    Input("fleet-prev", "n_clicks"),
    Input("fleet-next", "n_clicks"),
    State("fleet-page", "data"),
    State("fleet-url", "data"),
    State("fleet-per-page", "data"),
    State("fleet-drawn", "data"),
)
def draw(
    data: list[Any] | None,
    view: View | None,
    search: str | None,
    labels: str | None,
    sort: str | None,
    group: str | None,
    _prev: int | None,
    _next: int | None,
    page: int | None,
    last_url: str | None,
    per_page: int | None,
    drawn: str | None,
) -> tuple[Any, ...]:
    if data is None or view is None:
        return (no_update,) * 11
    query = FleetQuery(
        view=view,
        search=search or "",
        labels=labels or "",
        sort=next((key for key in SORT_KEYS if key == sort), "name"),
        group=group or "",
        page=_page_number(page, last_url),
        per_page=per_page,
    )
    label_filter = parse_label_filter(query.labels)
    errors = alert("; ".join(label_filter.errors), "warning") if label_filter.errors else None
    rows = _decode_rows(data)
    shown = page_of(apply_query(rows, query, label_filter), query.page, per_page or PER_PAGE[view])
    query = msgspec.structs.replace(query, page=shown.number)
    url = query_string(query)
    pages = shown.pages > 1
    info = f"page {shown.number} of {shown.pages}"
    count = (
        f"{shown.total} of {len(rows)} servers"
        if pages is False
        else f"{shown.first}-{shown.last} of {shown.total} ({len(rows)} servers)"
    )
    class_name = "tw-grid"
    if not rows:
        body: Any = empty_state(
            "No servers yet",
            "Add your first server above; you will get its agent token and start command.",
        )
        count = ""
    elif not shown.total:
        body = empty_state("No server matches", "Change the search or the label filter to see more.")
    elif view == "table":
        body, class_name = fleet_table(shown.groups, datetime.now(UTC)), "tw-fleet-table-wrap"
    else:
        body = fleet_cards(shown.groups, datetime.now(UTC))
    # The renderer's work grows with the components it is sent, whatever changed in them
    # (bench/fleet_render.py measured patching only the changed values: no cheaper when
    # every server reports between polls), so the saving is in not sending an equal draw.
    digest = drawn_digest(body)
    same = digest == drawn
    first, last = shown.number == 1, shown.number == shown.pages
    return (
        no_update if same else body,
        no_update if same else class_name,
        shown.number,
        url,
        count,
        not pages,
        first,
        last,
        info,
        errors,
        digest,
    )


# The URL follows the controls without a navigation: replaceState re-runs no page layout.
CALLBACKS.clientside_callback(
    """
    function (search) {
        if (typeof search === "string" && window.location.pathname === "/"
                && window.location.search !== search) {
            window.history.replaceState(window.history.state, "", "/" + search + window.location.hash);
        }
    }
    """,
    Input("fleet-url", "data"),
)
