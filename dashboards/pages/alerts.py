"""Alerts: what is firing, recent events, rules, channels and silences.

Operators acknowledge events, send test notifications and add threshold rules here;
everything else about rules and channels is in the API (docs/alerts.md)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from common.alert_metrics import CONTAINER_STATE_METRICS, METRICS
from common.api_models.alerts import ChannelOut, EventOut, RuleOut, SilenceOut
from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/alerts", title="Alerts · Tidewatch", name="Alerts"
)

REFRESH_MS = 5000
WRITERS = ("operator", "admin")
METRIC_OPTIONS = [*METRICS, *CONTAINER_STATE_METRICS]


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id), control])


def layout(**_: Any) -> html.Div:
    rule_form = html.Div(
        [
            html.Div(
                [
                    _field(
                        "Name", dcc.Input(id="alerts-rule-name", className="tw-input", placeholder="cpu-high")
                    ),
                    _field(
                        "Metric",
                        dcc.Dropdown(
                            METRIC_OPTIONS,
                            "cpu_percent",
                            id="alerts-rule-metric",
                            clearable=False,
                            className="tw-dropdown",
                        ),
                    ),
                    _field(
                        "Comparator",
                        dcc.Dropdown(
                            [">", ">=", "<", "<="],
                            ">",
                            id="alerts-rule-comparator",
                            clearable=False,
                            className="tw-dropdown",
                        ),
                    ),
                    _field(
                        "Threshold",
                        dcc.Input(id="alerts-rule-threshold", type="number", value=90, className="tw-input"),
                    ),
                    _field(
                        "For (seconds)",
                        dcc.Input(id="alerts-rule-duration", type="number", value=300, className="tw-input"),
                    ),
                    _field(
                        "Channels",
                        dcc.Dropdown([], [], multi=True, id="alerts-rule-channels", className="tw-dropdown"),
                    ),
                    html.Button(
                        "Add rule",
                        id="alerts-rule-submit",
                        className="tw-button tw-button-primary",
                        n_clicks=0,
                    ),
                ],
                className="tw-form-row",
            ),
            html.Div(id="alerts-rule-error"),
        ],
        id="alerts-rule-form",
        hidden=True,
    )
    return html.Div(
        [
            dcc.Interval(id="alerts-interval", interval=REFRESH_MS),
            html.Div(
                [html.H1("Alerts"), html.Div(id="alerts-summary", className="tw-summary")],
                className="tw-page-head",
            ),
            html.Div(id="alerts-action-result"),
            panel("Events", html.Div(id="alerts-events")),
            panel("Rules", html.Div([rule_form, html.Div(id="alerts-rules")])),
            panel("Channels", html.Div(id="alerts-channels")),
            panel("Silences", html.Div(id="alerts-silences")),
        ],
        className="tw-page",
    )


def _table(head: list[str], rows: list[html.Tr], table_id: str, empty: str) -> Any:
    if not rows:
        return html.P(empty, className="tw-muted", id=table_id)
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                      className="tw-table", id=table_id)  # fmt: skip


def _event_row(event: EventOut, can_write: bool) -> html.Tr:
    state = "resolved" if event.resolved_at else ("acknowledged" if event.acknowledged_at else "firing")
    action: Any = ""
    if can_write and state == "firing":
        action = html.Button("Acknowledge", id={"type": "alerts-ack", "index": event.id}, n_clicks=0,
                             className="tw-button tw-button-ghost tw-small")  # fmt: skip
    return html.Tr(
        [
            html.Td(html.Span(state, className=f"tw-alert-state tw-alert-{state}")),
            html.Td(event.rule_name),
            html.Td(event.target_label or event.target_key),
            html.Td(event.summary),
            html.Td(f"{event.started_at:%Y-%m-%d %H:%M:%S}"),
            html.Td(f"{event.resolved_at:%Y-%m-%d %H:%M:%S}" if event.resolved_at else "—"),
            html.Td("—" if event.peak_value is None else f"{event.peak_value:.4g}"),
            html.Td(action),
        ]
    )


def _rule_row(rule: RuleOut) -> html.Tr:
    scope = f"VPS {rule.scope_vps_id}" if rule.scope_vps_id else (
        ", ".join(f"{k}={v}" for k, v in rule.scope_labels.items()) or "fleet")  # fmt: skip
    condition = rule.kind if rule.kind != "threshold" else (
        f"{rule.metric} {rule.comparator} {rule.threshold:g} for {rule.duration_s:g} s")  # fmt: skip
    return html.Tr([html.Td(rule.name), html.Td(condition), html.Td(scope),
                    html.Td("on" if rule.enabled else "off"), html.Td(str(len(rule.channel_ids)))])  # fmt: skip


def _channel_row(channel: ChannelOut, can_write: bool) -> html.Tr:
    action: Any = ""
    if can_write:
        action = html.Button("Send test", id={"type": "alerts-test", "index": channel.id}, n_clicks=0,
                             className="tw-button tw-button-ghost tw-small")  # fmt: skip
    secrets = ", ".join(channel.secret_keys) or "none"
    return html.Tr([html.Td(channel.name), html.Td(channel.kind), html.Td(f"secrets set: {secrets}"),
                    html.Td("on" if channel.enabled else "off"), html.Td(action)])  # fmt: skip


def _silence_row(silence: SilenceOut) -> html.Tr:
    when = (f"{silence.cron} ({silence.timezone}) for {silence.duration_s:g} s" if silence.cron
            else f"{silence.starts_at:%Y-%m-%d %H:%M} → {silence.ends_at:%Y-%m-%d %H:%M}")  # fmt: skip
    scope = f"rule {silence.rule_id}" if silence.rule_id else "all rules"
    return html.Tr([html.Td(when), html.Td(scope), html.Td("active" if silence.active else "idle"),
                    html.Td(silence.comment)])  # fmt: skip


@callback(
    Output("alerts-events", "children"),
    Output("alerts-rules", "children"),
    Output("alerts-channels", "children"),
    Output("alerts-silences", "children"),
    Output("alerts-summary", "children"),
    Output("alerts-rule-channels", "options"),
    Output("alerts-rule-form", "hidden"),
    Input("alerts-interval", "n_intervals"),
    Input("alerts-action-result", "children"),
    State("app-session", "data"),
)
def refresh(_: int | None, __: Any, session: dict[str, Any] | None) -> tuple[Any, ...]:
    token = token_of(session)
    if token is None:
        return (no_update,) * 7
    can_write = bool(session and session.get("role") in WRITERS)
    client = api()
    try:
        events, rules = client.alert_events(token, limit=100), client.alert_rules(token)
        channels, silences = client.alert_channels(token), client.alert_silences(token)
    except ApiError as exc:
        return (alert(f"Could not load alerts: {exc.detail}"), *(no_update,) * 6)
    firing = sum(1 for e in events if e.resolved_at is None)
    summary = [html.Span(f"{firing} firing", className="tw-chip tw-chip-offline" if firing else "tw-chip"),
               html.Span(f"{len(rules)} rules", className="tw-chip")]  # fmt: skip
    return (
        _table(["State", "Rule", "Target", "Summary", "Started", "Resolved", "Peak", ""],
               [_event_row(e, can_write) for e in events], "alerts-events-table", "No alerts yet."),
        _table(["Name", "Condition", "Scope", "Enabled", "Channels"], [_rule_row(r) for r in rules],
               "alerts-rules-table", "No rules yet."),
        _table(["Name", "Kind", "Secrets", "Enabled", ""], [_channel_row(c, can_write) for c in channels],
               "alerts-channels-table", "No channels yet."),
        _table(["When", "Applies to", "Now", "Comment"], [_silence_row(s) for s in silences],
               "alerts-silences-table", "No silences."),
        summary,
        [{"label": c.name, "value": c.id} for c in channels],
        not can_write,
    )  # fmt: skip


@callback(
    Output("alerts-action-result", "children"),
    Input({"type": "alerts-ack", "index": ALL}, "n_clicks"),
    Input({"type": "alerts-test", "index": ALL}, "n_clicks"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def act(acks: list[int | None], tests: list[int | None], session: dict[str, Any] | None) -> Any:
    token, trigger = token_of(session), ctx.triggered_id
    if token is None or not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
        return no_update
    try:
        if trigger["type"] == "alerts-ack":
            api().acknowledge_event(token, int(trigger["index"]))
            return alert(f"Event {trigger['index']} acknowledged: no repeats until it resolves.", "success")
        delivery = api().test_channel(token, int(trigger["index"]))
        return alert(f"Test notification queued (delivery {delivery.id}).", "success")
    except ApiError as exc:
        return alert(exc.detail)


@callback(
    Output("alerts-rule-error", "children"),
    Output("alerts-rule-name", "value"),
    Input("alerts-rule-submit", "n_clicks"),
    State("alerts-rule-name", "value"),
    State("alerts-rule-metric", "value"),
    State("alerts-rule-comparator", "value"),
    State("alerts-rule-threshold", "value"),
    State("alerts-rule-duration", "value"),
    State("alerts-rule-channels", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def add_rule(
    clicks: int | None, name: str | None, metric: str, comparator: str, threshold: float | None,
    duration: float | None, channel_ids: list[int] | None, session: dict[str, Any] | None,
) -> tuple[Any, Any]:  # fmt: skip
    token = token_of(session)
    if not clicks or token is None:
        return no_update, no_update
    body = {"name": (name or "").strip(), "kind": "threshold", "metric": metric, "comparator": comparator,
            "threshold": threshold, "duration_s": duration if duration is not None else 0,
            "channel_ids": channel_ids or []}  # fmt: skip
    try:
        created = api().create_alert_rule(token, body)
    except ApiError as exc:
        return alert(exc.detail), no_update
    return alert(f"Rule {created.name} added.", "success"), ""
