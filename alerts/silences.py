"""Which notifications a mute window holds back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.silence_window import silence_active

__all__ = ["is_silenced", "silence_active"]


def is_silenced(silences: list[dict[str, Any]], rule_id: int, vps_id: int | None, now: datetime) -> bool:
    for silence in silences:
        if silence.get("rule_id") not in (None, rule_id):
            continue
        if silence.get("vps_id") is not None and silence["vps_id"] != vps_id:
            continue
        if silence_active(silence, now):
            return True
    return False
