"""Alert rules for the form: one kind setting per kind, and the PUT/POST body that keeps
whatever the form does not show (scope, hysteresis, repeat) from the rule being edited."""

from __future__ import annotations

from typing import Any

from common.api_models.alerts import RuleOut

__all__ = ["KIND_LABELS", "KIND_SETTING", "describe_rule", "form_values", "rule_body"]

KIND_LABELS = {
    "threshold": "threshold (incl. container state)",
    "offline": "offline",
    "traffic": "traffic quota",
    "disk_full": "disk full (predicted)",
    "renewal": "renewal reminder",
}
# The one kind-specific parameter the form edits, with its label; traffic has none
# (its percentages are the VPS quota's warn percents).
KIND_SETTING: dict[str, tuple[str, str]] = {
    "offline": ("grace_s", "grace (s)"),
    "disk_full": ("horizon_hours", "full within (h)"),
    "renewal": ("days_before", "days before expiry"),
}


def rule_body(
    name: str | None,
    kind: str,
    metric: str | None,
    comparator: str | None,
    threshold: float | None,
    duration_s: float | None,
    channel_ids: list[int] | None,
    setting: float | None,
    base: RuleOut | None = None,
) -> dict[str, Any]:
    """The whole rule for POST (``base`` None) or PUT (``base`` the rule edited)."""
    body: dict[str, Any] = {}
    if base is not None:
        body = {
            "enabled": base.enabled,
            "scope_vps_id": base.scope_vps_id,
            "scope_labels": base.scope_labels,
            "metric_labels": base.metric_labels if kind == "threshold" else {},
            "resolve_threshold": base.resolve_threshold,
            "resolve_duration_s": base.resolve_duration_s,
            "repeat_every_s": base.repeat_every_s,
            "params": dict(base.params) if base.kind == kind else {},
        }
    body.update(name=(name or "").strip(), kind=kind, channel_ids=channel_ids or [])
    params: dict[str, Any] = body.setdefault("params", {})
    if kind == "threshold":
        body.update(
            metric=metric or "", comparator=comparator or ">", threshold=threshold,
            duration_s=duration_s if duration_s is not None else 0,
        )  # fmt: skip
    else:
        body.update(metric="", threshold=None, duration_s=0, resolve_threshold=None, resolve_duration_s=None)
    key = KIND_SETTING.get(kind, ("", ""))[0]
    if key and setting is not None:
        params[key] = int(setting) if key == "days_before" else float(setting)
    return body


def form_values(rule: RuleOut) -> dict[str, Any]:
    """The rule as the form shows it."""
    key = KIND_SETTING.get(rule.kind, ("", ""))[0]
    return {
        "name": rule.name,
        "kind": rule.kind,
        "metric": rule.metric or None,
        "comparator": rule.comparator,
        "threshold": rule.threshold,
        "duration_s": rule.duration_s,
        "channel_ids": rule.channel_ids,
        "setting": rule.params.get(key) if key else None,
    }


def describe_rule(rule: RuleOut) -> str:
    """The condition column: threshold rules in full, others with their setting."""
    if rule.kind == "threshold":
        return f"{rule.metric} {rule.comparator} {rule.threshold:g} for {rule.duration_s:g} s"
    key, label = KIND_SETTING.get(rule.kind, ("", ""))
    value = rule.params.get(key) if key else None
    kind = KIND_LABELS.get(rule.kind, rule.kind)
    return kind if value is None else f"{kind}, {label} {value:g}"
