"""Delete buttons for rules, channels and silences, each behind a confirm dialog."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboards.client import ApiError
from dashboards.components import alert
from dashboards.context import api, token_of
from dashboards.deferred import DeferredCallbacks

__all__ = ["CALLBACKS", "delete_button", "delete_confirm"]

# Registered by the page that shows these controls (see dashboards.deferred).
CALLBACKS = DeferredCallbacks()

WHAT = {"rule": "alert rule", "channel": "channel", "silence": "silence"}


def delete_button(kind: str, item_id: int, label: str) -> html.Button:
    return html.Button("Delete", id={"type": "alerts-delete", "kind": kind, "index": item_id, "label": label},
                       n_clicks=0, className="tw-button tw-button-ghost tw-small tw-danger")  # fmt: skip


def delete_confirm() -> html.Div:
    return html.Div([dcc.ConfirmDialog(id="alerts-delete-confirm"), dcc.Store(id="alerts-delete-pending")])


def confirm_message(kind: str, label: str) -> str:
    return f"Delete the {WHAT[kind]} {label!r}? This cannot be undone."


@CALLBACKS.callback(
    Output("alerts-delete-pending", "data"),
    Output("alerts-delete-confirm", "message"),
    Output("alerts-delete-confirm", "displayed"),
    Input({"type": "alerts-delete", "kind": ALL, "index": ALL, "label": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def ask(_: list[int | None]) -> tuple[Any, Any, Any]:
    # Tables re-render with fresh buttons (n_clicks 0): only a real click asks.
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
        return no_update, no_update, no_update
    pending = {"kind": trigger["kind"], "id": trigger["index"], "label": trigger["label"]}
    return pending, confirm_message(trigger["kind"], trigger["label"]), True


@CALLBACKS.callback(
    Output("alerts-action-result", "children", allow_duplicate=True),
    Input("alerts-delete-confirm", "submit_n_clicks"),
    State("alerts-delete-pending", "data"),
    State("app-session", "data"),
    prevent_initial_call=True,
)
def delete(clicks: int | None, pending: dict[str, Any] | None, session: dict[str, Any] | None) -> Any:
    token = token_of(session)
    if not clicks or not pending or token is None:
        return no_update
    kind, item_id = pending["kind"], int(pending["id"])
    remove = {
        "rule": api().delete_alert_rule,
        "channel": api().delete_alert_channel,
        "silence": api().delete_alert_silence,
    }[kind]
    try:
        remove(token, item_id)
    except ApiError as exc:
        return alert(exc.detail)
    return alert(f"Deleted the {WHAT[kind]} {pending['label']!r}.", "success")
