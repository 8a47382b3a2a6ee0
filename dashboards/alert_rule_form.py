"""The alerts page's rule form: add a rule of any kind, or edit one picked from the table."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from common.alert_metrics import CONTAINER_STATE_METRICS, METRICS
from dashboards.client import ApiError
from dashboards.components import alert
from dashboards.context import api, token_of
from dashboards.deferred import DeferredCallbacks
from dashboards.rule_format import KIND_LABELS, KIND_SETTING, form_values, rule_body

__all__ = ["CALLBACKS", "edit_button", "rule_form"]

# Registered by the page that shows these controls (see dashboards.deferred).
CALLBACKS = DeferredCallbacks()

METRIC_OPTIONS = [*METRICS, *CONTAINER_STATE_METRICS]


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, htmlFor=control.id), control])


def _dropdown(options: Any, value: Any, control_id: str, **kwargs: Any) -> dcc.Dropdown:
    return dcc.Dropdown(options, value, id=control_id, clearable=False, className="tw-dropdown", **kwargs)


def rule_form() -> html.Div:
    """Hidden for viewers (the page's refresh shows it to operators and admins)."""
    kinds = [{"label": label, "value": kind} for kind, label in KIND_LABELS.items()]
    return html.Div(
        [
            dcc.Store(id="alerts-rule-editing"),
            html.Div(
                [
                    _field("Name", dcc.Input(id="alerts-rule-name", className="tw-input", placeholder="cpu-high")),
                    _field("Kind", _dropdown(kinds, "threshold", "alerts-rule-kind")),
                    _field("Metric", _dropdown(METRIC_OPTIONS, "cpu_percent", "alerts-rule-metric")),
                    _field("Comparator", _dropdown([">", ">=", "<", "<="], ">", "alerts-rule-comparator")),
                    _field("Threshold", dcc.Input(id="alerts-rule-threshold", type="number", value=90,
                                                  className="tw-input")),
                    _field("For (seconds)", dcc.Input(id="alerts-rule-duration", type="number", value=300,
                                                      className="tw-input")),
                    html.Div([html.Label("Setting", htmlFor="alerts-rule-setting", id="alerts-rule-setting-label"),
                              dcc.Input(id="alerts-rule-setting", type="number", className="tw-input")]),
                    _field("Channels", dcc.Dropdown([], [], multi=True, id="alerts-rule-channels",
                                                    className="tw-dropdown")),
                    html.Button("Add rule", id="alerts-rule-submit", className="tw-button tw-button-primary",
                                n_clicks=0),
                    html.Button("Cancel edit", id="alerts-rule-cancel", className="tw-button tw-button-ghost",
                                n_clicks=0, hidden=True),
                ],
                className="tw-form-row",
            ),
            html.Div(id="alerts-rule-error"),
        ],
        id="alerts-rule-form",
        hidden=True,
    )  # fmt: skip


def edit_button(rule_id: int) -> html.Button:
    return html.Button("Edit", id={"type": "alerts-rule-edit", "index": rule_id}, n_clicks=0,
                       className="tw-button tw-button-ghost tw-small")  # fmt: skip


@CALLBACKS.callback(
    Output("alerts-rule-setting-label", "children"),
    Output("alerts-rule-setting", "disabled"),
    Output("alerts-rule-metric", "disabled"),
    Output("alerts-rule-comparator", "disabled"),
    Output("alerts-rule-threshold", "disabled"),
    Output("alerts-rule-duration", "disabled"),
    Input("alerts-rule-kind", "value"),
)
def kind_changed(kind: str) -> tuple[Any, ...]:
    """Threshold fields only for threshold rules; the kind's one setting otherwise."""
    label = KIND_SETTING.get(kind, ("", "no setting"))[1]
    other = kind != "threshold"
    return label.capitalize(), kind not in KIND_SETTING, other, other, other, other


@CALLBACKS.callback(
    Output("alerts-rule-editing", "data"),
    Output("alerts-rule-name", "value", allow_duplicate=True),
    Output("alerts-rule-kind", "value"),
    Output("alerts-rule-metric", "value"),
    Output("alerts-rule-comparator", "value"),
    Output("alerts-rule-threshold", "value"),
    Output("alerts-rule-duration", "value"),
    Output("alerts-rule-setting", "value"),
    Output("alerts-rule-channels", "value"),
    Output("alerts-rule-submit", "children"),
    Output("alerts-rule-cancel", "hidden"),
    Input({"type": "alerts-rule-edit", "index": ALL}, "n_clicks"),
    Input("alerts-rule-cancel", "n_clicks"),
    Input("alerts-rule-error", "children"),
    State("alerts-rule-editing", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def start_edit(
    _: Any, __: Any, ___: Any, editing: int | None, session: dict[str, Any] | None
) -> tuple[Any, ...]:
    """Load the rule picked into the form; Cancel (or a save) goes back to adding."""
    trigger, token = ctx.triggered_id, token_of(session)
    reset: tuple[Any, ...] = (None, "", "threshold", "cpu_percent", ">", 90, 300, None, [], "Add rule", True)
    if trigger == "alerts-rule-cancel":
        return reset
    if trigger == "alerts-rule-error":
        # Only a successful save ends the edit; an error keeps the form as typed.
        saved = (
            editing is not None and ctx.triggered[0]["value"] and "saved" in str(ctx.triggered[0]["value"])
        )
        return reset if saved else (no_update,) * 11
    if not isinstance(trigger, dict) or not ctx.triggered[0]["value"] or token is None:
        return (no_update,) * 11
    try:
        rule = next(r for r in api().alert_rules(token) if r.id == int(trigger["index"]))
    except (ApiError, StopIteration):
        return (no_update,) * 11
    v = form_values(rule)
    return (rule.id, v["name"], v["kind"], v["metric"] or "cpu_percent", v["comparator"], v["threshold"],
            v["duration_s"], v["setting"], v["channel_ids"], "Save rule", False)  # fmt: skip


@CALLBACKS.callback(
    Output("alerts-rule-error", "children"),
    Output("alerts-rule-name", "value"),
    Input("alerts-rule-submit", "n_clicks"),
    State("alerts-rule-editing", "data"),
    State("alerts-rule-name", "value"),
    State("alerts-rule-kind", "value"),
    State("alerts-rule-metric", "value"),
    State("alerts-rule-comparator", "value"),
    State("alerts-rule-threshold", "value"),
    State("alerts-rule-duration", "value"),
    State("alerts-rule-setting", "value"),
    State("alerts-rule-channels", "value"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def save_rule(
    clicks: int | None, editing: int | None, name: str | None, kind: str, metric: str, comparator: str,
    threshold: float | None, duration: float | None, setting: float | None, channel_ids: list[int] | None,
    session: dict[str, Any] | None,
) -> tuple[Any, Any]:  # fmt: skip
    token = token_of(session)
    if not clicks or token is None:
        return no_update, no_update
    client = api()
    try:
        if editing is None:
            body = rule_body(name, kind, metric, comparator, threshold, duration, channel_ids, setting)
            created = client.create_alert_rule(token, body)
            return alert(f"Rule {created.name} added.", "success"), ""
        base = next((r for r in client.alert_rules(token) if r.id == editing), None)
        if base is None:
            return alert(f"Rule {editing} no longer exists."), no_update
        body = rule_body(name, kind, metric, comparator, threshold, duration, channel_ids, setting, base)
        updated = client.update_alert_rule(token, editing, body)
    except ApiError as exc:
        return alert(exc.detail), no_update
    return alert(f"Rule {updated.name} saved.", "success"), ""
