"""Words and times for the admin pages (users, API tokens, audit log). Pure functions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from common.api_models import AuditEntry, TokenOut
from dashboards.units import format_ago, format_duration

__all__ = [
    "EXPIRY_CHOICES",
    "audit_detail",
    "audit_filters",
    "format_local",
    "next_page",
    "token_expiry",
]

# What the token form offers (the API takes 1-365 days).
EXPIRY_CHOICES = ((7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"))


def format_local(moment: datetime | None, tz_offset_min: int | None) -> str:
    """``moment`` in the browser's time, with the offset shown: ``2026-11-30 09:24 UTC+01:00``."""
    if moment is None:
        return "—"
    offset = timedelta(minutes=tz_offset_min or 0)
    local = moment.astimezone(timezone(offset))
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
    return f"{local:%Y-%m-%d %H:%M} UTC{sign}{hours:02d}:{minutes:02d}"


def token_expiry(token: TokenOut, now: datetime) -> tuple[str, bool]:
    """How long ``token`` has left, and whether it has expired."""
    left = (token.expires_at - now).total_seconds()
    if left <= 0:
        return f"expired {format_ago(token.expires_at, now)}", True
    return f"in {format_duration(left)}", False


def audit_detail(entry: AuditEntry) -> str:
    """The entry's detail as compact ``key=value`` pairs, in the order stored."""
    parts = []
    for key, value in entry.detail.items():
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def audit_filters(
    user_id: Any, vps_id: Any, action: Any, before_id: int | None, limit: int
) -> dict[str, Any]:
    """Query parameters for ``GET /api/audit`` from the page's controls (empty ones left out)."""
    chosen = {
        "user_id": int(user_id) if user_id not in (None, "") else None,
        "vps_id": int(vps_id) if vps_id not in (None, "") else None,
        "action": action or None,
        "before_id": before_id,
        "limit": limit,
    }
    return {key: value for key, value in chosen.items() if value is not None}


def next_page(before: list[int | None], move: str, last_id: int | None) -> list[int | None]:
    """The audit pager's stack of ``before_id`` values after ``move``.

    ``before`` holds one entry per page seen, None for the newest; the last is the page
    shown. "older" pages past ``last_id`` (the shown page's oldest row, None when the page
    was empty), "newer" goes back one page, and anything else (a filter changed) starts over.
    """
    if move == "older":
        return [*before, last_id] if last_id is not None else list(before)
    if move == "newer":
        return list(before[:-1]) or [None]
    return [None]
