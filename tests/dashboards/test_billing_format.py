"""Billing and rule form helpers: pure functions, tested without a browser."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest

from common.api_models.alerts import BillingOut, RuleIn, RuleOut
from dashboards.alert_deletes import confirm_message
from dashboards.billing_format import (
    DEFAULT_REMINDER_DAYS,
    FormError,
    billing_body,
    expiry_note,
    format_totals,
    monthly_totals,
    quota_body,
    reminder_days,
)
from dashboards.billing_forms import show_forms
from dashboards.rule_format import describe_rule, form_values, rule_body

GIB = 1024**3


def _billing(vps_id: int, **fields: Any) -> BillingOut:
    base: dict[str, Any] = {"vps_id": vps_id, "provider": "", "price": None, "currency": "USD",
                            "cycle": "monthly", "expires_on": None, "auto_renew": False, "notes": "",
                            "monthly_cost": None, "days_left": None}  # fmt: skip
    return msgspec.convert({**base, **fields}, BillingOut)


def _rule(**fields: Any) -> RuleOut:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base: dict[str, Any] = {"id": 7, "name": "r", "kind": "threshold", "enabled": True, "scope_vps_id": None,
                            "scope_labels": {}, "metric": "cpu_percent", "metric_labels": {}, "comparator": ">",
                            "threshold": 90.0, "duration_s": 300.0, "resolve_threshold": None,
                            "resolve_duration_s": None, "repeat_every_s": None, "params": {}, "channel_ids": [],
                            "created_at": now, "updated_at": now}  # fmt: skip
    return msgspec.convert({**base, **fields}, RuleOut)


def test_monthly_totals_sum_per_currency_and_skip_unpriced() -> None:
    items = [
        _billing(1, price=12.0, currency="EUR", cycle="quarterly", monthly_cost=4.0),
        _billing(2, price=5.5, currency="EUR", monthly_cost=5.5),
        _billing(3, price=120.0, currency="USD", cycle="yearly", monthly_cost=10.0),
        _billing(4, price=None, currency="GBP"),
    ]
    totals = monthly_totals(items)
    assert totals == {"EUR": 9.5, "USD": 10.0}
    assert list(totals) == ["EUR", "USD"]
    assert format_totals(totals) == ["9.50 EUR / month", "10.00 USD / month"]
    assert monthly_totals([]) == {}


def test_reminder_window_is_the_widest_enabled_renewal_rule() -> None:
    assert reminder_days([]) == DEFAULT_REMINDER_DAYS
    rules = [
        _rule(kind="renewal", params={"days_before": 14}),
        _rule(kind="renewal", params={"days_before": 30}, enabled=False),
        _rule(kind="renewal", params={}),
        _rule(kind="threshold", params={"days_before": 99}),
    ]
    assert reminder_days(rules) == 14


@pytest.mark.parametrize(
    ("days_left", "auto_renew", "expected"),
    [
        (30, False, ("expires in 30 d", False)),
        (14, False, ("expires in 14 d", True)),
        (3, True, ("expires in 3 d (auto-renew)", True)),
        (0, False, ("expires today", True)),
        (-2, False, ("expired 2 d ago", True)),
    ],
)
def test_expiry_note(days_left: int, auto_renew: bool, expected: tuple[str, bool]) -> None:
    item = _billing(1, expires_on=date(2026, 1, 1), days_left=days_left, auto_renew=auto_renew)
    assert expiry_note(item, 14) == expected


def test_expiry_note_without_an_expiry_date() -> None:
    assert expiry_note(None, 7) is None
    assert expiry_note(_billing(1, price=3.0), 7) is None


def test_billing_body_from_the_form() -> None:
    assert billing_body(" Hetzner ", 12, "eur", "quarterly", "2027-03-01T00:00:00", True) == {
        "provider": "Hetzner", "currency": "EUR", "cycle": "quarterly", "auto_renew": True,
        "price": 12.0, "expires_on": "2027-03-01",
    }  # fmt: skip
    assert billing_body(None, "", None, None, None, False) == {
        "provider": "", "currency": "USD", "cycle": "monthly", "auto_renew": False,
    }  # fmt: skip


def test_quota_body_from_the_form() -> None:
    body = quota_body("out", 1.5, "15", " Europe/Berlin ", "50, 80,100")
    assert body == {"direction": "out", "reset_day": 15, "timezone": "Europe/Berlin",
                    "quota_bytes": round(1.5 * GIB), "warn_percents": [50.0, 80.0, 100.0]}  # fmt: skip
    assert "quota_bytes" not in quota_body(None, None, None, None, "")
    with pytest.raises(FormError, match="warn_percents"):
        quota_body("total", 1, 1, "UTC", "80, lots")


def test_new_rule_bodies_of_each_kind_are_valid_api_input() -> None:
    for kind, setting, key in [("offline", 120, "grace_s"), ("disk_full", 24, "horizon_hours"),
                               ("renewal", 10, "days_before"), ("traffic", None, None)]:  # fmt: skip
        body = rule_body("r", kind, "cpu_percent", ">", 90, 300, [3], setting)
        rule = msgspec.convert(body, RuleIn)  # the API's own input type accepts it
        assert rule.kind == kind and rule.metric == "" and rule.threshold is None
        assert msgspec.to_builtins(rule.params) == ({key: setting} if key else {})
    threshold = msgspec.convert(
        rule_body(" cpu ", "threshold", "cpu_percent", ">=", 80, None, None, 5), RuleIn
    )
    assert (threshold.name, threshold.metric, threshold.comparator, threshold.threshold) == ("cpu", "cpu_percent",
                                                                                            ">=", 80)  # fmt: skip
    assert threshold.duration_s == 0 and msgspec.to_builtins(threshold.params) == {}


def test_editing_keeps_what_the_form_does_not_show() -> None:
    base = _rule(scope_vps_id=4, scope_labels={"env": "prod"}, resolve_threshold=80.0, repeat_every_s=3600.0,
                 metric_labels={"mount": "/"})  # fmt: skip
    body = rule_body("r2", "threshold", "disk_percent", ">", 95, 60, [], None, base)
    edited = msgspec.convert(body, RuleIn)
    assert (edited.name, edited.metric, edited.threshold, edited.duration_s) == ("r2", "disk_percent", 95, 60)
    assert (edited.scope_vps_id, edited.scope_labels, edited.metric_labels) == (
        4,
        {"env": "prod"},
        {"mount": "/"},
    )
    assert (edited.resolve_threshold, edited.repeat_every_s) == (80.0, 3600.0)
    # Changing the kind drops the threshold-only fields and the old kind's params.
    renewal = msgspec.convert(rule_body("r2", "renewal", None, None, None, None, [], 21, base), RuleIn)
    assert renewal.resolve_threshold is None and renewal.metric_labels == {}
    assert msgspec.to_builtins(renewal.params) == {"days_before": 21}
    assert renewal.scope_vps_id == 4


def test_form_values_and_description() -> None:
    renewal = _rule(kind="renewal", metric="", threshold=None, params={"days_before": 10})
    assert form_values(renewal)["setting"] == 10 and form_values(renewal)["metric"] is None
    assert describe_rule(renewal) == "renewal reminder, days before expiry 10"
    assert describe_rule(_rule(kind="traffic", metric="", threshold=None)) == "traffic quota"
    assert describe_rule(_rule()) == "cpu_percent > 90 for 300 s"
    assert confirm_message("rule", "cpu") == "Delete the alert rule 'cpu'? This cannot be undone."


def test_viewers_get_no_billing_forms() -> None:
    # Decided from the session alone, before any API call (the API refuses viewers anyway).
    assert show_forms({"role": "viewer", "token": "t"})[0] is True
    assert show_forms(None)[0] is True
