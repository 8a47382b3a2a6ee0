"""Billing facts for display: expiry notes, monthly totals, and form input to API bodies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from common.api_models.alerts import BillingOut, RuleOut

__all__ = [
    "DEFAULT_REMINDER_DAYS",
    "billing_body",
    "expiry_note",
    "format_totals",
    "monthly_totals",
    "quota_body",
    "reminder_days",
]

# The renewal rule's own default (alerts.kinds.observe_renewal) when no rule sets one.
DEFAULT_REMINDER_DAYS = 7
GIB = 1024**3


def monthly_totals(items: Iterable[BillingOut]) -> dict[str, float]:
    """Monthly cost per currency, sorted by currency (currencies are never converted).
    The API already spreads each price over a month from its billing cycle."""
    totals: dict[str, float] = defaultdict(float)
    for item in items:
        if item.monthly_cost is not None:
            totals[item.currency] += item.monthly_cost
    return {currency: round(total, 2) for currency, total in sorted(totals.items())}


def format_totals(totals: dict[str, float]) -> list[str]:
    return [f"{total:.2f} {currency} / month" for currency, total in totals.items()]


def reminder_days(rules: Iterable[RuleOut]) -> int:
    """The widest reminder window of the enabled renewal rules, else the default."""
    windows = [
        int(rule.params.get("days_before", DEFAULT_REMINDER_DAYS))
        for rule in rules
        if rule.kind == "renewal" and rule.enabled
    ]
    return max(windows, default=DEFAULT_REMINDER_DAYS)


def expiry_note(item: BillingOut | None, window_days: int) -> tuple[str, bool] | None:
    """("expires in N d", urgent) for a server with an expiry date; urgent within the
    reminder window (or already expired)."""
    if item is None or item.expires_on is None or item.days_left is None:
        return None
    days = item.days_left
    if days < 0:
        text = f"expired {-days} d ago"
    elif days == 0:
        text = "expires today"
    else:
        text = f"expires in {days} d"
    if item.auto_renew:
        text += " (auto-renew)"
    return text, days <= window_days


class FormError(ValueError):
    """Form input the dashboard can reject before asking the API, naming the field."""


def billing_body(
    provider: str | None,
    price: float | str | None,
    currency: str | None,
    cycle: str | None,
    expires_on: str | None,
    auto_renew: bool,
) -> dict[str, Any]:
    """The PUT /api/vps/{id}/billing body from the form; the API validates the values."""
    body: dict[str, Any] = {
        "provider": (provider or "").strip(),
        "currency": (currency or "USD").strip().upper(),
        "cycle": cycle or "monthly",
        "auto_renew": bool(auto_renew),
    }
    if price not in (None, ""):
        body["price"] = float(price)  # type: ignore[arg-type]
    if expires_on:
        body["expires_on"] = expires_on[:10]
    return body


def quota_body(
    direction: str | None,
    quota_gib: float | str | None,
    reset_day: int | str | None,
    timezone: str | None,
    warn_percents: str | None,
) -> dict[str, Any]:
    """The PUT /api/vps/{id}/traffic-quota body from the form: GiB to bytes, warn
    percentages from a comma-separated list. No quota when the amount is empty."""
    body: dict[str, Any] = {
        "direction": direction or "total",
        "reset_day": int(reset_day) if reset_day not in (None, "") else 1,  # type: ignore[arg-type]
        "timezone": (timezone or "UTC").strip(),
    }
    if quota_gib not in (None, ""):
        body["quota_bytes"] = round(float(quota_gib) * GIB)  # type: ignore[arg-type]
    try:
        body["warn_percents"] = [float(p) for p in (warn_percents or "").replace(" ", "").split(",") if p]
    except ValueError as exc:
        raise FormError("warn_percents: give numbers separated by commas, e.g. 80, 100") from exc
    return body
