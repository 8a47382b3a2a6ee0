"""Alerts: what is firing, recent events, rules, channels and silences.

Operators acknowledge events, send test notifications, add and edit rules of every
kind, add channels and silences, and delete any of them (behind a confirm dialog).
Scope, hysteresis and repeat policy are set through the API (docs/alerts.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from common.api_models.alerts import ChannelOut, EventOut, RuleOut, SilenceOut
from dashboards import alert_deletes, alert_rule_form
from dashboards.alert_deletes import delete_button, delete_confirm
from dashboards.alert_rule_form import edit_button, rule_form
from dashboards.client import ApiError
from dashboards.components import alert, panel
from dashboards.context import api, token_of
from dashboards.rule_format import describe_rule

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/alerts", title="Alerts · Tidewatch", name="Alerts"
)

alert_rule_form.CALLBACKS.register()
alert_deletes.CALLBACKS.register()

REFRESH_MS = 5000
WRITERS = ("operator", "admin")


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id), control])


# What each channel kind takes, shown as the starting text of the form.
CHANNEL_EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "email": ({"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "alerts",
               "from": "tidewatch@example.com", "to": ["ops@example.com"]}, {"password": ""}),
    "webhook": ({"url": "https://hooks.example.com/tidewatch"}, {"hmac_key": ""}),
    "telegram": ({"chat_id": "-1001234567890"}, {"bot_token": ""}),
    "discord": ({}, {"url": "https://discord.com/api/webhooks/…"}),
    "slack": ({}, {"url": "https://hooks.slack.com/services/…"}),
}  # fmt: skip


def _channel_form() -> html.Div:
    config, secret = CHANNEL_EXAMPLES["email"]
    return html.Div(
        [
            html.Div(
                [
                    _field("Name", dcc.Input(id="alerts-channel-name", className="tw-input", placeholder="ops-mail")),
                    _field("Kind", dcc.Dropdown(list(CHANNEL_EXAMPLES), "email", id="alerts-channel-kind",
                                                clearable=False, className="tw-dropdown")),
                    html.Button("Add channel", id="alerts-channel-submit", className="tw-button tw-button-primary",
                                n_clicks=0),
                ],
                className="tw-form-row",
            ),
            html.Div(
                [
                    _field("Config (JSON)", dcc.Textarea(id="alerts-channel-config", value=json.dumps(config, indent=1),
                                                         className="tw-input tw-json")),
                    _field("Secret (JSON, never shown again)", dcc.Textarea(id="alerts-channel-secret",
                           value=json.dumps(secret, indent=1), className="tw-input tw-json")),
                ],
                className="tw-form-row",
            ),
            html.Div(id="alerts-channel-error"),
        ],
        id="alerts-channel-form",
        hidden=True,
    )  # fmt: skip


def _silence_form() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    _field("Cron (recurring)", dcc.Input(id="alerts-silence-cron", className="tw-input",
                                                         placeholder="0 3 * * *")),
                    _field("Minutes", dcc.Input(id="alerts-silence-minutes", type="number", value=60,
                                                className="tw-input")),
                    _field("Timezone", dcc.Input(id="alerts-silence-tz", className="tw-input", value="UTC")),
                    _field("Comment", dcc.Input(id="alerts-silence-comment", className="tw-input",
                                                placeholder="nightly backup")),
                    html.Button("Add silence", id="alerts-silence-submit", className="tw-button tw-button-primary",
                                n_clicks=0),
                ],
                className="tw-form-row",
            ),
            html.P("Leave cron empty to mute everything from now for the given minutes.", className="tw-muted"),
            html.Div(id="alerts-silence-error"),
        ],
        id="alerts-silence-form",
        hidden=True,
    )  # fmt: skip


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Interval(id="alerts-interval", interval=REFRESH_MS),
            html.Div(
                [html.H1("Alerts"), html.Div(id="alerts-summary", className="tw-summary")],
                className="tw-page-head",
            ),
            html.Div(id="alerts-action-result"),
            delete_confirm(),
            panel("Events", html.Div(id="alerts-events")),
            panel("Rules", html.Div([rule_form(), html.Div(id="alerts-rules")])),
            panel("Channels", html.Div([_channel_form(), html.Div(id="alerts-channels")])),
            panel("Silences", html.Div([_silence_form(), html.Div(id="alerts-silences")])),
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


def _rule_row(rule: RuleOut, can_write: bool) -> html.Tr:
    scope = f"VPS {rule.scope_vps_id}" if rule.scope_vps_id else (
        ", ".join(f"{k}={v}" for k, v in rule.scope_labels.items()) or "fleet")  # fmt: skip
    actions = [edit_button(rule.id), delete_button("rule", rule.id, rule.name)] if can_write else []
    return html.Tr([html.Td(rule.name), html.Td(describe_rule(rule)), html.Td(scope),
                    html.Td("on" if rule.enabled else "off"), html.Td(str(len(rule.channel_ids))),
                    html.Td(actions)], id=f"alerts-rule-{rule.id}")  # fmt: skip


def _channel_row(channel: ChannelOut, can_write: bool) -> html.Tr:
    action: Any = ""
    if can_write:
        action = [html.Button("Send test", id={"type": "alerts-test", "index": channel.id}, n_clicks=0,
                              className="tw-button tw-button-ghost tw-small"),
                  delete_button("channel", channel.id, channel.name)]  # fmt: skip
    secrets = ", ".join(channel.secret_keys) or "none"
    return html.Tr([html.Td(channel.name), html.Td(channel.kind), html.Td(f"secrets set: {secrets}"),
                    html.Td("on" if channel.enabled else "off"), html.Td(action)])  # fmt: skip


def _silence_row(silence: SilenceOut, can_write: bool) -> html.Tr:
    when = (f"{silence.cron} ({silence.timezone}) for {silence.duration_s:g} s" if silence.cron
            else f"{silence.starts_at:%Y-%m-%d %H:%M} → {silence.ends_at:%Y-%m-%d %H:%M}")  # fmt: skip
    scope = f"rule {silence.rule_id}" if silence.rule_id else "all rules"
    action = [delete_button("silence", silence.id, silence.comment or when)] if can_write else []
    return html.Tr([html.Td(when), html.Td(scope), html.Td("active" if silence.active else "idle"),
                    html.Td(silence.comment), html.Td(action)])  # fmt: skip


@callback(
    Output("alerts-events", "children"),
    Output("alerts-rules", "children"),
    Output("alerts-channels", "children"),
    Output("alerts-silences", "children"),
    Output("alerts-summary", "children"),
    Output("alerts-rule-channels", "options"),
    Output("alerts-rule-form", "hidden"),
    Output("alerts-channel-form", "hidden"),
    Output("alerts-silence-form", "hidden"),
    Input("alerts-interval", "n_intervals"),
    Input("alerts-action-result", "children"),
    Input("alerts-channel-error", "children"),
    Input("alerts-silence-error", "children"),
    Input("alerts-rule-error", "children"),
    State("app-session", "data"),
)
def refresh(_: int | None, *changes_and_session: Any) -> tuple[Any, ...]:
    session: dict[str, Any] | None = changes_and_session[-1]
    token = token_of(session)
    if token is None:
        return (no_update,) * 9
    can_write = bool(session and session.get("role") in WRITERS)
    client = api()
    try:
        events, rules = client.alert_events(token, limit=100), client.alert_rules(token)
        channels, silences = client.alert_channels(token), client.alert_silences(token)
    except ApiError as exc:
        return (alert(f"Could not load alerts: {exc.detail}"), *(no_update,) * 8)
    firing = sum(1 for e in events if e.resolved_at is None)
    summary = [html.Span(f"{firing} firing", className="tw-chip tw-chip-offline" if firing else "tw-chip"),
               html.Span(f"{len(rules)} rules", className="tw-chip")]  # fmt: skip
    return (
        _table(["State", "Rule", "Target", "Summary", "Started", "Resolved", "Peak", ""],
               [_event_row(e, can_write) for e in events], "alerts-events-table", "No alerts yet."),
        _table(["Name", "Condition", "Scope", "Enabled", "Channels", ""], [_rule_row(r, can_write) for r in rules],
               "alerts-rules-table", "No rules yet."),
        _table(["Name", "Kind", "Secrets", "Enabled", ""], [_channel_row(c, can_write) for c in channels],
               "alerts-channels-table", "No channels yet."),
        _table(["When", "Applies to", "Now", "Comment", ""], [_silence_row(s, can_write) for s in silences],
               "alerts-silences-table", "No silences."),
        summary,
        [{"label": c.name, "value": c.id} for c in channels],
        not can_write,
        not can_write,
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
    Output("alerts-channel-config", "value"),
    Output("alerts-channel-secret", "value"),
    Input("alerts-channel-kind", "value"),
    prevent_initial_call=True,
)
def channel_example(kind: str) -> tuple[str, str]:
    config, secret = CHANNEL_EXAMPLES.get(kind, ({}, {}))
    return json.dumps(config, indent=1), json.dumps(secret, indent=1)


@callback(
    Output("alerts-channel-error", "children"),
    Input("alerts-channel-submit", "n_clicks"),
    State("alerts-channel-name", "value"),
    State("alerts-channel-kind", "value"),
    State("alerts-channel-config", "value"),
    State("alerts-channel-secret", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def add_channel(
    clicks: int | None, name: str | None, kind: str, config: str | None, secret: str | None,
    session: dict[str, Any] | None,
) -> Any:  # fmt: skip
    token = token_of(session)
    if not clicks or token is None:
        return no_update
    try:
        body = {"name": (name or "").strip(), "kind": kind, "config": json.loads(config or "{}"),
                "secret": {k: v for k, v in json.loads(secret or "{}").items() if v}}  # fmt: skip
    except (ValueError, AttributeError) as exc:
        return alert(f"Config and secret must be JSON objects: {exc}")
    try:
        created = api().create_alert_channel(token, body)
    except ApiError as exc:
        return alert(exc.detail)
    return alert(f"Channel {created.name} added; send it a test below.", "success")


@callback(
    Output("alerts-silence-error", "children"),
    Input("alerts-silence-submit", "n_clicks"),
    State("alerts-silence-cron", "value"),
    State("alerts-silence-minutes", "value"),
    State("alerts-silence-tz", "value"),
    State("alerts-silence-comment", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def add_silence(
    clicks: int | None, cron: str | None, minutes: float | None, timezone: str | None, comment: str | None,
    session: dict[str, Any] | None,
) -> Any:  # fmt: skip
    token = token_of(session)
    if not clicks or token is None:
        return no_update
    duration_s = float(minutes or 0) * 60
    body: dict[str, Any] = {"timezone": (timezone or "UTC").strip(), "comment": (comment or "").strip()}
    if cron and cron.strip():
        body.update(cron=cron.strip(), duration_s=duration_s)
    else:
        now = datetime.now(UTC)
        body.update(
            starts_at=now.isoformat(), ends_at=(now + timedelta(seconds=max(duration_s, 60))).isoformat()
        )
    try:
        api().create_alert_silence(token, body)
    except ApiError as exc:
        return alert(exc.detail)
    return alert("Silence added.", "success")
