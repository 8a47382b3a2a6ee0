"""The VPS page's operations: containers (start/stop/restart, logs), "Run command", agent counters.

Operators and admins see the controls; viewers see the tables only (the API
refuses them anyway). A command's output is shown as it is stored: while it
runs, the page asks the API for the record twice a second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from common.api_models.commands import FINAL_STATUSES, AgentStateOut, CommandOut, ContainerOut
from dashboards.client import ApiError
from dashboards.components import alert
from dashboards.context import api, token_of
from dashboards.deferred import DeferredCallbacks
from dashboards.units import format_bytes, format_duration, format_percent

__all__ = ["CALLBACKS", "operations_section"]

# Registered by the page that shows the section (pages/vps.py), for every app.
CALLBACKS = DeferredCallbacks()

WRITERS = ("operator", "admin")
POLL_MS = 500
REFRESH_MS = 5000
CONTAINER_ACTIONS = ("start", "stop", "restart")
RUN_KINDS = {"shell": "Shell", "script": "Script (sh)", "ping": "Ping"}
_PLACEHOLDERS = {"shell": "echo hello", "script": "echo one; echo two", "ping": "127.0.0.1"}


def operations_section() -> html.Div:
    """The operations block under the charts."""
    return html.Div(
        [
            dcc.Store(id="ops-command"),
            dcc.Store(id="ops-finished"),
            dcc.Interval(id="ops-poll", interval=POLL_MS, disabled=True),
            dcc.Interval(id="ops-refresh", interval=REFRESH_MS),
            dcc.RadioItems(
                {"containers": "Containers", "run": "Run command", "agent": "Agent"},
                "containers",
                id="ops-tab",
                inline=True,
                className="tw-segmented",
                inputClassName="tw-segmented-input",
            ),
            html.Div(
                [
                    html.Div(id="ops-ctr-status", className="tw-ops-status"),
                    html.Div(id="ops-containers"),
                    html.Pre(id="ops-logs", className="tw-ops-output", hidden=True),
                ],
                id="ops-pane-containers",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Dropdown(
                                id="ops-kind",
                                options=[{"label": v, "value": k} for k, v in RUN_KINDS.items()],
                                value="shell",
                                clearable=False,
                                className="tw-ops-kind",
                            ),
                            dcc.Input(
                                id="ops-input", type="text", placeholder="echo hello", className="tw-input"
                            ),
                            html.Button("Run", id="ops-run", className="tw-button tw-button-primary"),
                        ],
                        id="ops-run-controls",
                        className="tw-ops-run",
                    ),
                    html.Div(id="ops-run-status", className="tw-ops-status"),
                    html.Pre(id="ops-output", className="tw-ops-output"),
                    html.H4("History"),
                    html.Div(id="ops-history"),
                ],
                id="ops-pane-run",
                hidden=True,
            ),
            html.Div(id="ops-agent", hidden=True),
        ],
        className="tw-panel tw-ops",
        id="ops",
    )


@CALLBACKS.callback(
    Output("ops-pane-containers", "hidden"),
    Output("ops-pane-run", "hidden"),
    Output("ops-agent", "hidden"),
    Input("ops-tab", "value"),
)
def switch_tab(tab: str) -> tuple[bool, bool, bool]:
    return tab != "containers", tab != "run", tab != "agent"


def _uptime(c: ContainerOut, now: datetime) -> str:
    if c.state != "running" or c.started_at is None:
        return "—"
    return format_duration((now - c.started_at).total_seconds())


def containers_table(containers: list[ContainerOut], writer: bool, now: datetime) -> Any:
    """The containers tab's table; buttons only for those who may act."""
    if not containers:
        return html.P("No containers reported by this agent.", className="tw-muted")
    head = ["Name", "State", "Image", "CPU", "Memory", "Uptime", ""]
    rows = []
    for c in containers:
        buttons = (
            [
                dcc.ConfirmDialogProvider(
                    html.Button(action.capitalize(), className="tw-button tw-button-ghost tw-small"),
                    id={"type": "ops-ctr", "action": action, "cid": c.container_id, "name": c.name},
                    message=f"{action.capitalize()} container {c.name}?",
                )
                for action in CONTAINER_ACTIONS
            ]
            + [
                html.Button(
                    "Logs",
                    id={"type": "ops-ctr-logs", "action": "logs", "cid": c.container_id, "name": c.name},
                    className="tw-button tw-button-ghost tw-small",
                )
            ]
            if writer
            else []
        )
        state = c.state + (f" ({c.health})" if c.health else "")
        memory = format_bytes(c.memory_usage_bytes) if c.memory_usage_bytes is not None else "—"
        rows.append(
            html.Tr(
                [
                    html.Td(c.name),
                    html.Td(state, className=f"tw-ctr-state tw-ctr-{c.state}"),
                    html.Td(c.image),
                    html.Td(format_percent(c.cpu_percent)),
                    html.Td(memory),
                    html.Td(_uptime(c, now)),
                    html.Td(buttons, className="tw-actions"),
                ],
                id=f"ops-ctr-row-{c.name}",
            )
        )
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="tw-table"
    )


def agent_panel(state: AgentStateOut) -> Any:
    facts = [
        ("Connected", "yes" if state.connected else "no"),
        ("Allowed commands", ", ".join(state.allowed_kinds) or "none"),
        (
            "Last heartbeat",
            state.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC") if state.heartbeat_at else "—",
        ),
        ("Batches waiting", str(state.pending_batches)),
        ("Spooled", format_bytes(state.spooled_bytes)),
        ("Dropped batches", str(state.dropped_batches_total)),
        ("Docker sample overruns", str(state.docker_sample_overruns_total)),
        ("Dropped control messages (send errors)", str(state.control_messages_dropped_total)),
    ]
    return html.Table(
        html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts]),
        className="tw-table",
        id="ops-counters",
    )


@CALLBACKS.callback(
    Output("ops-containers", "children"),
    Output("ops-agent", "children"),
    Output("ops-history", "children"),
    Output("ops-kind", "options"),
    Output("ops-run-controls", "hidden"),
    Input("ops-refresh", "n_intervals"),
    Input("ops-finished", "data"),
    State("vps-id", "data"),
    State("app-session", "data"),
)
def refresh(_: int | None, __: Any, vps_id: int | None, session: dict[str, Any] | None) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None or vps_id is None:
        return (no_update,) * 5
    writer = (session or {}).get("role") in WRITERS
    client = api()
    try:
        containers = client.containers(token, vps_id)
        state = client.agent_state(token, vps_id)
        history = client.list_commands(token, vps_id, 10)
    except ApiError as exc:
        return alert(exc.detail), no_update, no_update, no_update, not writer
    allowed = set(state.allowed_kinds)
    table = containers_table(containers, writer and "docker_action" in allowed, datetime.now(UTC))
    options = [{"label": v, "value": k, "disabled": k not in allowed} for k, v in RUN_KINDS.items()]
    rows = [
        html.Tr(
            [
                html.Td(c.created_at.strftime("%H:%M:%S")),
                html.Td(c.kind),
                html.Td(_describe(c.kind, c.args)),
                html.Td(c.status),
                html.Td(c.requested_by),
            ]
        )
        for c in history
    ]
    return table, agent_panel(state), html.Table(html.Tbody(rows), className="tw-table"), options, not writer


def _describe(kind: str, args: dict[str, Any]) -> str:
    if kind in ("docker_action", "docker_logs"):
        return f"{args.get('action', 'logs')} {str(args.get('container_id', ''))[:12]}"
    text = (
        args.get("command") or args.get("inline") or args.get("host") or args.get("target_command_id") or ""
    )
    return str(text)[:80]


def _start(vps_id: int, token: str, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    try:
        created = api().create_command(token, vps_id, body)
    except ApiError as exc:
        return None, exc.detail
    return {"id": created.id}, None


@CALLBACKS.callback(
    Output("ops-command", "data", allow_duplicate=True),
    Output("ops-poll", "disabled", allow_duplicate=True),
    Output("ops-ctr-status", "children", allow_duplicate=True),
    Input({"type": "ops-ctr", "action": ALL, "cid": ALL, "name": ALL}, "submit_n_clicks"),
    Input({"type": "ops-ctr-logs", "action": ALL, "cid": ALL, "name": ALL}, "n_clicks"),
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def act(_: Any, __: Any, vps_id: int | None, session: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """A confirmed container action, or a logs tail (no confirmation needed to read)."""
    token = token_of(session)
    trigger = ctx.triggered_id
    # Rebuilt tables fire this with no clicks: only a real (confirmed) click counts.
    if token is None or vps_id is None or not isinstance(trigger, dict) or not ctx.triggered[0]["value"]:
        return no_update, no_update, no_update
    action, name = trigger["action"], trigger["name"]
    if action == "logs":
        body: dict[str, Any] = {"kind": "docker_logs", "container_id": trigger["cid"], "tail": 200}
    else:
        body = {"kind": "docker_action", "container_id": trigger["cid"], "action": action}
    command, error = _start(vps_id, token, body)
    if command is None:
        return no_update, no_update, alert(error or "failed")
    label = f"{action} {name}"
    command.update(purpose="logs" if action == "logs" else "container", label=label)
    spinner = html.Span([html.Span(className="tw-spinner"), f" {label}: pending"], id="ops-ctr-running")
    return command, False, spinner


@CALLBACKS.callback(
    Output("ops-command", "data", allow_duplicate=True),
    Output("ops-poll", "disabled", allow_duplicate=True),
    Output("ops-run-status", "children", allow_duplicate=True),
    Output("ops-output", "children", allow_duplicate=True),
    Input("ops-run", "n_clicks"),
    State("ops-kind", "value"),
    State("ops-input", "value"),
    State("vps-id", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def run(
    clicks: int | None, kind: str, text: str | None, vps_id: int | None, session: dict[str, Any] | None
) -> tuple[Any, Any, Any, Any]:
    token = token_of(session)
    if not clicks or token is None or vps_id is None:
        return no_update, no_update, no_update, no_update
    text = text or ""
    body: dict[str, Any] = {"kind": kind}
    if kind == "shell":
        body["command"] = text
    elif kind == "script":
        body.update(inline=text + "\n", interpreter="sh")
    else:
        body["host"] = text
    command, error = _start(vps_id, token, body)
    if command is None:
        return no_update, no_update, alert(error or "failed"), ""
    command.update(purpose="run", label=f"{kind}: {text[:60]}")
    return command, False, html.Span([html.Span(className="tw-spinner"), " pending"]), ""


def _output(record: CommandOut) -> str:
    text = record.stdout + record.stderr
    if record.output_truncated:
        text += "\n[output truncated]"
    return text


def _result(record: CommandOut, label: str) -> Any:
    if record.status not in FINAL_STATUSES:
        return html.Span([html.Span(className="tw-spinner"), f" {label}: {record.status}"])
    ok = record.status == "succeeded"
    detail = f" (exit {record.exit_code})" if record.exit_code is not None else ""
    message = f"{label}: {record.status}{detail}" + (
        f" — {record.error_message}" if record.error_message else ""
    )
    return html.Div(message, className=f"tw-alert tw-alert-{'info' if ok else 'error'}", id="ops-result")


@CALLBACKS.callback(
    Output("ops-ctr-status", "children"),
    Output("ops-run-status", "children"),
    Output("ops-output", "children"),
    Output("ops-logs", "children"),
    Output("ops-logs", "hidden"),
    Output("ops-poll", "disabled"),
    Output("ops-finished", "data"),
    Input("ops-poll", "n_intervals"),
    State("ops-command", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def poll(_: int | None, command: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, ...]:
    token = token_of(session)
    skip: tuple[Any, ...] = (no_update,) * 7
    if token is None or not command:
        return (*skip[:5], True, no_update)
    try:
        record = api().get_command(token, command["id"])
    except ApiError as exc:
        return (alert(exc.detail), *skip[1:5], True, no_update)
    final = record.status in FINAL_STATUSES
    result = _result(record, command.get("label", record.kind))
    done = (True, record.id) if final else (False, no_update)
    purpose = command.get("purpose")
    if purpose == "run":
        return (no_update, result, _output(record), no_update, no_update, *done)
    if purpose == "logs":
        return (result, no_update, no_update, _output(record), False, *done)
    return (result, no_update, no_update, no_update, no_update, *done)
