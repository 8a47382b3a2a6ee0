"""The fleet as cards or as a dense table. Pure: rows in, Dash components out.

The live elements carry ``dashboards.live_ids.live_id(vps, field)`` ids, which the live
feed (``assets/live_feed.js``) sets from pushed samples: ``status`` (a badge),
``cpu`` and ``memory`` (the value), ``cpu-bar`` and ``memory-bar`` (the bar: class and
width), ``cpu-detail`` and ``memory-detail``, and ``net``. Both views use them (the
table has values, no bars); only one view is in the page at a time, so ids stay unique.
Disk has no live id: the feed does not push it; the next draw brings it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from dash import dcc, html
from dash.development.base_component import Component

from dashboards.components import CRITICAL_PERCENT, WARN_PERCENT
from dashboards.fleet_view import FleetGroup, FleetRow
from dashboards.live_ids import live_id
from dashboards.units import format_ago, format_bytes, format_duration, format_percent, format_rate

__all__ = ["TABLE_COLUMNS", "fleet_cards", "fleet_table", "network_text"]

MAX_LABELS_ON_CARD = 4
TABLE_COLUMNS = ("Server", "Host", "Status", "CPU", "Memory", "Disk", "Network", "Labels", "Uptime")


def _level(value: float | None) -> str:
    # components.meter's levels (and the live feed's), for elements built here.
    if value is None:
        return "none"
    return "critical" if value >= CRITICAL_PERCENT else "warn" if value >= WARN_PERCENT else "ok"


def network_text(row: FleetRow) -> str:
    """``↓ received  ↑ sent`` per second, or — when the agent has not reported traffic."""
    if row.net_rx_bytes_per_second is None and row.net_tx_bytes_per_second is None:
        return "—"
    return f"↓ {format_rate(row.net_rx_bytes_per_second)}  ↑ {format_rate(row.net_tx_bytes_per_second)}"


def _since(row: FleetRow, now: datetime) -> str:
    if row.online and row.uptime_seconds is not None:
        return f"up {format_duration(row.uptime_seconds)}"
    seen = datetime.fromtimestamp(row.last_seen_ms / 1000, UTC) if row.last_seen_ms is not None else None
    return f"seen {format_ago(seen, now)}"


def _used_of(used: int | None, total: int | None) -> str:
    return f"{format_bytes(used)} of {format_bytes(total)}"


def _label_text(labels: dict[str, str], limit: int | None = None) -> list[str]:
    pairs = [f"{key}={value}" for key, value in sorted(labels.items())]
    if limit is not None and len(pairs) > limit:
        return [*pairs[:limit], f"+{len(pairs) - limit}"]
    return pairs


# --- Cards ------------------------------------------------------------------------------------
# Dash's renderer does work per component on every store change, so the page's cost
# grows with its component count (bench/fleet_render.py): text stays plain strings where
# no id needs an element, and the status dot is CSS.


def _status(row: FleetRow) -> html.Span:
    """The status badge; the live feed rewrites it as components.status_badge's shape."""
    state = "online" if row.online else "offline"
    return html.Span(
        state, id=live_id(row.id, "status"), className=f"tw-status tw-status-{state} tw-fleet-status"
    )


def _meter(row: FleetRow, field: str | None, label: str, value: float | None, detail: str) -> html.Div:
    """Label and value, the bar, the detail; ``field`` names the live ids (None: none)."""
    width = 0.0 if value is None else max(0.0, min(100.0, value))

    def ids(suffix: str) -> dict[str, dict[str, str | int]]:
        return {"id": live_id(row.id, field + suffix)} if field else {}

    return html.Div(
        [
            label,
            html.Span(format_percent(value), className="tw-meter-value", **ids("")),  # type: ignore[arg-type]
            html.Div(
                html.Div(
                    className=f"tw-meter-fill tw-level-{_level(value)}",
                    style={"width": f"{width:.1f}%"},
                    **ids("-bar"),  # type: ignore[arg-type]
                ),
                className="tw-meter-track",
            ),
            html.Span(detail, className="tw-meter-detail", **ids("-detail")),  # type: ignore[arg-type]
        ],
        className="tw-fleet-meter",
    )


def _card(row: FleetRow, now: datetime) -> dcc.Link:
    """One server; the whole card links to its detail page."""
    children: list[Component | str] = [
        html.Div([html.Span(row.name, className="tw-card-title"), _status(row)], className="tw-card-head"),
        html.Div(row.system or "Waiting for the agent's first report", className="tw-card-sub"),
    ]
    if row.clock_note:
        children.append(html.Div(row.clock_note, className="tw-warn-badge tw-clock-skew"))
    labels = _label_text(row.labels, MAX_LABELS_ON_CARD)
    if labels:
        children.append(html.Div(" · ".join(labels), className="tw-fleet-labels", title=", ".join(labels)))
    if row.has_data:
        children += [
            _meter(row, "cpu", "CPU", row.cpu_percent, f"load {row.load_1 or 0:.2f}"),
            _meter(
                row,
                "memory",
                "Memory",
                row.memory_percent,
                _used_of(row.memory_used_bytes, row.memory_total_bytes),
            ),
            _meter(row, None, "Disk", row.disk_percent, _used_of(row.disk_used_bytes, row.disk_total_bytes)),
        ]
    else:
        children.append(
            html.Div(
                [
                    "No data yet — is the agent running?",
                    html.Br(),
                    "Open the server for its install command.",
                ],
                className="tw-card-empty",
            )
        )
    if row.expiry_text:
        children.append(
            html.Div(
                row.expiry_text,
                id=f"fleet-expiry-{row.id}",
                className="tw-expiry tw-expiry-soon" if row.expiry_urgent else "tw-expiry",
                title="within the renewal reminder window" if row.expiry_urgent else "billing expiry",
            )
        )
    network = network_text(row) if row.has_data else row.ip_address
    children.append(
        html.Div([html.Span(network, id=live_id(row.id, "net")), _since(row, now)], className="tw-card-foot")
    )
    return dcc.Link(
        children,
        href=f"/vps/{row.id}",
        className=f"tw-card tw-vps-card tw-fleet-card {'is-online' if row.online else 'is-offline'}",
    )


def fleet_cards(groups: Sequence[FleetGroup], now: datetime) -> list[Component]:
    """The cards, each group under a heading that spans the grid."""
    out: list[Component] = []
    for group in groups:
        if group.title is not None:
            out.append(html.H2(group.title, className="tw-fleet-group"))
        out.extend(_card(row, now) for row in group.rows)
    return out


# --- Table ------------------------------------------------------------------------------------


def _number_cell(row: FleetRow, field: str | None, value: float | None, title: str) -> html.Td:
    return html.Td(
        format_percent(value),
        className=f"tw-num tw-text-{_level(value)}",
        title=title,
        **({"id": live_id(row.id, field)} if field else {}),  # type: ignore[arg-type]
    )


def _table_row(row: FleetRow, now: datetime) -> html.Tr:
    labels = _label_text(row.labels)
    return html.Tr(
        [
            html.Td(dcc.Link(row.name, href=f"/vps/{row.id}"), className="tw-fleet-name"),
            html.Td(row.hostname or row.ip_address, className="tw-fleet-host"),
            html.Td(_status(row)),
            _number_cell(row, "cpu", row.cpu_percent, f"load {row.load_1:.2f}" if row.load_1 else ""),
            _number_cell(
                row, "memory", row.memory_percent, _used_of(row.memory_used_bytes, row.memory_total_bytes)
            ),
            _number_cell(row, None, row.disk_percent, _used_of(row.disk_used_bytes, row.disk_total_bytes)),
            html.Td(network_text(row), id=live_id(row.id, "net"), className="tw-num"),
            html.Td("  ".join(labels), className="tw-fleet-labels-cell", title=", ".join(labels)),
            html.Td(_since(row, now), className="tw-num tw-muted"),
        ],
        className="is-online" if row.online else "is-offline",
    )


def fleet_table(groups: Sequence[FleetGroup], now: datetime) -> html.Table:
    """One row per server; each group is a ``tbody`` under a heading row."""
    bodies = []
    for group in groups:
        rows: list[html.Tr] = []
        if group.title is not None:
            rows.append(
                html.Tr(
                    html.Th(group.title, colSpan=len(TABLE_COLUMNS), scope="rowgroup"),
                    className="tw-fleet-group-row",
                )
            )
        rows.extend(_table_row(row, now) for row in group.rows)
        bodies.append(html.Tbody(rows))
    head = html.Thead(
        html.Tr([html.Th(title, scope="col", className=f"tw-col-{title.lower()}") for title in TABLE_COLUMNS])
    )
    return html.Table([head, *bodies], className="tw-fleet-table")
