"""What a notification says, rendered from an event with the channel's templates.

Templates use ``string.Template`` (``$rule``, ``${target}``): no attribute access,
so a template cannot reach into Python objects.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["DEFAULT_BODY", "DEFAULT_TITLE", "Message", "render"]

DEFAULT_TITLE = "[$state_upper] $rule: $target"
DEFAULT_BODY = "$summary\nValue: $value (peak $peak)\nStarted: $started_at\nResolved: $resolved_at"


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, before a channel formats it."""

    title: str
    body: str
    # 'firing', 'resolved' or 'test'.
    state: str
    fields: dict[str, str]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def render(event: dict[str, Any], state: str, config: dict[str, Any]) -> Message:
    """The message for ``event`` (keys of alert_events plus ``rule``) in ``state``."""
    fields = {
        "event_id": _fmt(event.get("id")),
        "rule": _fmt(event.get("rule")),
        "kind": _fmt(event.get("kind")),
        "target": _fmt(event.get("target_label") or event.get("target_key")),
        "state": state,
        "state_upper": state.upper(),
        "value": _fmt(event.get("value")),
        "peak": _fmt(event.get("peak_value")),
        "summary": _fmt(event.get("summary")),
        "started_at": _fmt(event.get("started_at")),
        "resolved_at": _fmt(event.get("resolved_at")),
    }
    title = string.Template(str(config.get("title_template") or DEFAULT_TITLE)).safe_substitute(fields)
    body = string.Template(str(config.get("body_template") or DEFAULT_BODY)).safe_substitute(fields)
    return Message(title=title[:250], body=body[:3500], state=state, fields=fields)
