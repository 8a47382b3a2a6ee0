"""Whether a mute window is active: one-off ranges and recurring cron windows in a timezone.

Shared by the evaluator (to mute) and the API (to show which silences are active)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["silence_active"]


def silence_active(silence: dict[str, Any], now: datetime) -> bool:
    """Whether ``silence`` (a row of alert_silences) mutes at ``now``."""
    if silence.get("cron"):
        local_now = now.astimezone(ZoneInfo(silence["timezone"]))
        # The latest start at or before now (croniter's get_prev skips an exact match).
        started: datetime = croniter(silence["cron"], local_now + timedelta(seconds=1)).get_prev(datetime)
        return local_now < started + timedelta(seconds=float(silence["duration_s"]))
    starts, ends = silence.get("starts_at"), silence.get("ends_at")
    return starts is not None and ends is not None and starts <= now < ends
