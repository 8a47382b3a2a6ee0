"""Mute windows: one-off ranges and recurring cron windows in a timezone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["is_silenced", "silence_active"]


def silence_active(silence: dict[str, Any], now: datetime) -> bool:
    """Whether ``silence`` (a row of alert_silences) mutes at ``now``."""
    if silence.get("cron"):
        local_now = now.astimezone(ZoneInfo(silence["timezone"]))
        # The latest start at or before now (croniter's get_prev skips an exact match).
        started: datetime = croniter(silence["cron"], local_now + timedelta(seconds=1)).get_prev(datetime)
        return local_now < started + timedelta(seconds=float(silence["duration_s"]))
    starts, ends = silence.get("starts_at"), silence.get("ends_at")
    return starts is not None and ends is not None and starts <= now < ends


def is_silenced(silences: list[dict[str, Any]], rule_id: int, vps_id: int | None, now: datetime) -> bool:
    for silence in silences:
        if silence.get("rule_id") not in (None, rule_id):
            continue
        if silence.get("vps_id") is not None and silence["vps_id"] != vps_id:
            continue
        if silence_active(silence, now):
            return True
    return False
