"""The public status page and its admin form, as pure functions: API data in,
components or request bodies out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dash import html

from common.api_models.status_page import StatusPageConfigOut, StatusPageOut, StatusServerOut
from dashboards.components import status_badge

__all__ = [
    "DEFAULT_GROUP",
    "AdminRow",
    "admin_rows",
    "config_body",
    "format_generated",
    "format_uptime",
    "status_groups",
    "status_summary",
    "uptime_level",
]

DEFAULT_GROUP = "Servers"
# Uptime under these reads amber, then red.
GOOD_UPTIME, FAIR_UPTIME = 99.0, 95.0


def format_uptime(percent: float | None) -> str:
    """``99.996`` → ``99.99%``: rounded down, so a short outage never reads as 100%."""
    if percent is None:
        return "—"
    # Rounded to a microsecond's worth first, so float noise (99.99999999) does not floor to 99.99.
    percent = round(percent, 6)
    if percent >= 100.0:
        return "100%"
    decimals = 2 if percent >= GOOD_UPTIME else 1
    scale = 10**decimals
    return f"{math.floor(percent * scale) / scale:.{decimals}f}%"


def uptime_level(percent: float | None) -> str:
    """ok, warn, bad or none: the colour class of an uptime figure."""
    if percent is None:
        return "none"
    return "ok" if percent >= GOOD_UPTIME else "warn" if percent >= FAIR_UPTIME else "bad"


def status_summary(page: StatusPageOut) -> tuple[str, str]:
    """The headline and its level: all up, or how many are down."""
    servers = [s for g in page.groups for s in g.servers]
    down = sum(1 for s in servers if not s.online)
    if not servers:
        return "No servers are listed yet", "none"
    if down == 0:
        return "All systems operational", "ok"
    return f"{down} of {len(servers)} servers down", "bad"


def _uptime_cell(label: str, percent: float | None) -> html.Div:
    return html.Div(
        [
            html.Span(label, className="tw-fact-label"),
            html.Span(format_uptime(percent), className="tw-uptime-value"),
        ],
        className=f"tw-uptime tw-uptime-{uptime_level(percent)}",
    )


def _server_row(server: StatusServerOut) -> html.Div:
    load = "—" if server.load_1 is None else f"{server.load_1:.2f}"
    cpu = "" if server.cpu_percent is None else f" · CPU {server.cpu_percent:.0f}%"
    return html.Div(
        [
            html.Div(
                [html.Span(server.name, className="tw-status-name"), status_badge(server.online)],
                className="tw-status-head",
            ),
            html.Div(
                [
                    _uptime_cell("24 h", server.uptime_24h_percent),
                    _uptime_cell("7 d", server.uptime_7d_percent),
                    _uptime_cell("30 d", server.uptime_30d_percent),
                    html.Div(
                        [
                            html.Span("Load", className="tw-fact-label"),
                            html.Span(load + cpu, className="tw-uptime-value"),
                        ],
                        className="tw-uptime",
                    ),
                ],
                className="tw-status-figures",
            ),
        ],
        className="tw-status-row",
    )


def status_groups(page: StatusPageOut) -> list[html.Section]:
    """One panel per group, a row per server."""
    return [
        html.Section(
            [html.H3(group.title), *(_server_row(s) for s in group.servers)],
            className="tw-panel tw-status-group",
        )
        for group in page.groups
    ]


def format_generated(moment: datetime) -> str:
    return f"Updated {moment:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class AdminRow:
    """One server in the admin form: shown or not, in which group, under which public name."""

    vps_id: int
    vps_name: str
    shown: bool
    group: str
    display_name: str


def admin_rows(config: StatusPageConfigOut, fleet: Sequence[tuple[int, str]]) -> list[AdminRow]:
    """The form's rows: servers on the page first, in page order, then the rest by name."""
    names = dict(fleet)
    rows: list[AdminRow] = []
    for group in config.groups:
        for server in group.servers:
            if server.vps_id in names:
                rows.append(
                    AdminRow(
                        server.vps_id, names.pop(server.vps_id), True, group.title, server.display_name or ""
                    )
                )
    rest = sorted(names.items(), key=lambda item: item[1])
    rows.extend(AdminRow(vps_id, name, False, DEFAULT_GROUP, "") for vps_id, name in rest)
    return rows


def config_body(enabled: bool, title: str, rows: Sequence[AdminRow]) -> dict[str, object]:
    """``PUT /api/status-page/config``'s body from the form: groups in the order they first
    appear, servers in row order; a blank group is the default one, a blank name is none."""
    groups: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        if not row.shown:
            continue
        server: dict[str, object] = {"vps_id": row.vps_id}
        if row.display_name.strip():
            server["display_name"] = row.display_name.strip()
        groups.setdefault(row.group.strip() or DEFAULT_GROUP, []).append(server)
    return {
        "enabled": enabled,
        "title": title.strip() or "Service status",
        "groups": [{"title": name, "servers": servers} for name, servers in groups.items()],
    }
