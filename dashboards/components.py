"""Reusable pieces of the UI. Pure: data in, Dash components out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

from common.api_models import VpsOut
from dashboards.live_ids import live_id
from dashboards.units import format_ago, format_bytes, format_duration, format_percent

__all__ = [
    "agent_warnings",
    "alert",
    "copy_block",
    "empty_state",
    "meter",
    "panel",
    "secret_panel",
    "status_badge",
    "vps_header",
]

# Usage above these is shown amber, then red.
WARN_PERCENT, CRITICAL_PERCENT = 75.0, 90.0


def status_badge(online: bool, badge_id: dict[str, str | int] | None = None) -> html.Span:
    """A dot and a word: online or offline."""
    state = "online" if online else "offline"
    ids: dict[str, Any] = {"id": badge_id} if badge_id else {}
    return html.Span([html.Span(className="tw-dot"), state], className=f"tw-status tw-status-{state}", **ids)


def _level(value: float | None) -> str:
    if value is None:
        return "none"
    return "critical" if value >= CRITICAL_PERCENT else "warn" if value >= WARN_PERCENT else "ok"


def meter(label: str, value: float | None, detail: str, live: tuple[int, str] | None = None) -> html.Div:
    """A labelled usage bar, coloured by how full it is. ``live`` (VPS id, field) gives its
    value, bar and detail the ids the live feed updates them by."""
    width = 0.0 if value is None else max(0.0, min(100.0, value))

    def ids(suffix: str) -> dict[str, Any]:
        return {"id": live_id(live[0], live[1] + suffix)} if live else {}

    return html.Div(
        [
            html.Div(
                [html.Span(label), html.Span(format_percent(value), className="tw-meter-value", **ids(""))],
                className="tw-meter-head",
            ),
            html.Div(
                html.Div(
                    className=f"tw-meter-fill tw-level-{_level(value)}",
                    style={"width": f"{width:.1f}%"},
                    **ids("-bar"),
                ),
                className="tw-meter-track",
            ),
            html.Div(detail, className="tw-meter-detail", **ids("-detail")),
        ],
        className="tw-meter",
    )


def agent_warnings(vps: VpsOut) -> list[str]:
    """What is wrong with the agent's reports, in words: a skewed clock, refused batches."""
    warnings = []
    if vps.clock_note:
        warnings.append(
            f"{vps.clock_note}: its samples are stored at corrected times; fix its time sync (NTP)"
        )
    if vps.rejected_batches_total:
        reason = f": {vps.last_rejection}" if vps.last_rejection else ""
        warnings.append(f"{vps.rejected_batches_total} batches refused by the collector{reason}")
    return warnings


def _os(vps: VpsOut) -> str:
    return " ".join(part for part in (vps.os_name, vps.os_version) if part)


def panel(
    title: str, body: Component, extra: Component | None = None, panel_id: str | None = None
) -> html.Section:
    """A titled card around a chart or form."""
    head: list[Component] = [html.H3(title)] + ([extra] if extra is not None else [])
    return html.Section(
        [html.Div(head, className="tw-panel-head"), body], className="tw-panel", id=panel_id or ""
    )


def copy_block(text: str, block_id: str) -> html.Div:
    """Monospace text with a copy button."""
    return html.Div(
        [html.Code(text, id=block_id), dcc.Clipboard(target_id=block_id, className="tw-copy", title="Copy")],
        className="tw-copy-block",
    )


def secret_panel(title: str, token: str, command: str, id_prefix: str) -> html.Div:
    """A just-issued agent token and its start command, shown once."""
    return html.Div(
        [
            html.Div(title, className="tw-secret-title"),
            html.P("Copy it now: only a hash is stored, so it cannot be shown again.", className="tw-muted"),
            html.Label("Agent token"),
            copy_block(token, f"{id_prefix}-token"),
            html.Label("Install the agent: paste this on the server (it runs as root through sudo)"),
            copy_block(command, f"{id_prefix}-command"),
        ],
        className="tw-secret",
    )


def empty_state(
    title: str, body: str, command: str | None = None, block_id: str = "empty-command"
) -> html.Div:
    """What to do when there is nothing to show yet."""
    children: list[Component] = [
        html.Div("◌", className="tw-empty-icon"),
        html.H2(title, className="tw-empty-title"),
        html.P(body, className="tw-muted"),
    ]
    if command:
        children.append(copy_block(command, block_id))
    return html.Div(children, className="tw-empty")


def alert(message: str, kind: str = "error") -> html.Div:
    """An inline message: error, warning or success."""
    return html.Div(message, className=f"tw-alert tw-alert-{kind}", role="alert")


def _fact(label: str, value: str) -> html.Div:
    return html.Div(
        [html.Span(label, className="tw-fact-label"), html.Span(value, className="tw-fact-value")],
        className="tw-fact",
    )


def vps_header(vps: VpsOut, now: datetime | None = None) -> html.Div:
    """Name, status and what the agent reported about the host."""
    now = now or datetime.now(UTC)
    cores = f" ({vps.cpu_logical_cores} threads)" if vps.cpu_logical_cores else ""
    system = " · ".join(p for p in (vps.hostname, _os(vps), vps.kernel_version, vps.architecture) if p)
    uptime = vps.latest.uptime_seconds if vps.latest and vps.online else None
    return html.Div(
        [
            html.Div(
                # The live feed rewrites the badge when the VPS goes online or offline.
                [html.H1(vps.name), status_badge(vps.online, live_id(vps.id, "status"))],
                className="tw-detail-title",
            ),
            html.Div(system or "The agent has not reported this host yet", className="tw-muted"),
            html.Div(
                [
                    _fact("CPU", (vps.cpu_model or "—") + cores),
                    _fact("Memory", format_bytes(vps.memory_total_bytes)),
                    _fact("Uptime", format_duration(uptime)),
                    _fact("Address", vps.ip_address or ", ".join(vps.ip_addresses[:2]) or "—"),
                    _fact("Agent", vps.agent_version or "—"),
                    _fact("Last seen", format_ago(vps.last_seen, now)),
                ],
                className="tw-facts",
            ),
            *(alert(text, "warning") for text in agent_warnings(vps)),
        ]
    )
