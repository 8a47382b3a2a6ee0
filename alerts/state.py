"""Apply observations to events and queue their notifications, in one transaction.

An event opens once (a partial unique index allows one open event per rule and
target) and resolves once; each notification is one alert_deliveries row, unique
per (event, channel, transition), written in the same transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from alerts.observation import Observation, Rule
from alerts.silences import is_silenced

__all__ = ["apply_observations", "open_events"]

log = logging.getLogger("tidewatch.alerts.state")


async def open_events(conn: AsyncConnection[Any], rule_id: int) -> dict[str, dict[str, Any]]:
    rows = await (
        await conn.execute(
            "SELECT target_key, id, details, acknowledged_at, last_notified_at, repeat_count, peak_value"
            " FROM alert_events WHERE rule_id = %s AND resolved_at IS NULL FOR UPDATE",
            (rule_id,),
        )
    ).fetchall()
    return {
        r[0]: {"id": r[1], "details": r[2], "acked": r[3] is not None, "last_notified_at": r[4],
               "repeat_count": r[5], "peak": r[6]}
        for r in rows
    }  # fmt: skip


def _peak(rule: Rule, old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    if old is None:
        return new
    return min(old, new) if rule.comparator in ("<", "<=") else max(old, new)


async def _queue(
    conn: AsyncConnection[Any], rule: Rule, event_id: int, vps_id: int | None, transition: str,
    silences: list[dict[str, Any]], now: datetime,
) -> int:  # fmt: skip
    """Queue one delivery per enabled channel of the rule; returns how many will send."""
    muted = is_silenced(silences, rule.id, vps_id, now)
    if transition == "resolve":
        # Resolve only where the opening went out (or was muted: then muted too).
        cur = await conn.execute(
            "INSERT INTO alert_deliveries (event_id, channel_id, transition, status)"
            " SELECT %s, d.channel_id, 'resolve', CASE WHEN d.status = 'suppressed' OR %s THEN 'suppressed'"
            " ELSE 'pending' END FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id AND c.enabled"
            " WHERE d.event_id = %s AND d.transition = 'open'"
            " ON CONFLICT (event_id, channel_id, transition) DO NOTHING",
            (event_id, muted, event_id, ),
        )  # fmt: skip
        return cur.rowcount
    cur = await conn.execute(
        "INSERT INTO alert_deliveries (event_id, channel_id, transition, status)"
        " SELECT %s, rc.channel_id, %s, %s FROM alert_rule_channels rc"
        " JOIN alert_channels c ON c.id = rc.channel_id AND c.enabled WHERE rc.rule_id = %s"
        " ON CONFLICT (event_id, channel_id, transition) DO NOTHING",
        (event_id, transition, "suppressed" if muted else "pending", rule.id),
    )
    return cur.rowcount


async def apply_observations(
    conn: AsyncConnection[Any],
    rule: Rule,
    observations: list[Observation],
    opened: dict[str, dict[str, Any]],
    silences: list[dict[str, Any]],
    now: datetime,
) -> tuple[int, int]:
    """Open, update and resolve this rule's events; returns (opened, resolved)."""
    opens = resolves = 0
    for obs in observations:
        current = opened.get(obs.target_key)
        if current is None:
            if not obs.fire:
                continue
            row = await (
                await conn.execute(
                    "INSERT INTO alert_events (rule_id, vps_id, target_key, target_label, value, peak_value,"
                    " summary, details, last_notified_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())"
                    " ON CONFLICT (rule_id, target_key) WHERE resolved_at IS NULL DO NOTHING RETURNING id",
                    (
                        rule.id,
                        obs.vps_id,
                        obs.target_key,
                        obs.target_label,
                        obs.value,
                        obs.value,
                        obs.summary,
                        json.dumps(obs.details, default=str),
                    ),
                )
            ).fetchone()
            if row is None:
                continue
            opens += 1
            await _queue(conn, rule, row[0], obs.vps_id, "open", silences, now)
            log.info("rule %s: %s opened (event %d): %s", rule.name, obs.target_key, row[0], obs.summary)
            continue
        event_id = current["id"]
        if obs.clear:
            await conn.execute(
                "UPDATE alert_events SET resolved_at = now(), value = %s, peak_value = %s WHERE id = %s",
                (obs.value, _peak(rule, current["peak"], obs.value), event_id),
            )
            resolves += 1
            await _queue(conn, rule, event_id, obs.vps_id, "resolve", silences, now)
            log.info("rule %s: %s resolved (event %d)", rule.name, obs.target_key, event_id)
            continue
        await conn.execute(
            "UPDATE alert_events SET value = coalesce(%s, value), peak_value = %s, summary = %s WHERE id = %s",
            (obs.value, _peak(rule, current["peak"], obs.value), obs.summary, event_id),
        )
        last = current["last_notified_at"]
        if (
            rule.repeat_every_s is not None
            and not current["acked"]
            and obs.fire
            and last is not None
            and (now - last).total_seconds() >= rule.repeat_every_s
        ):
            count = current["repeat_count"] + 1
            await conn.execute(
                "UPDATE alert_events SET repeat_count = %s, last_notified_at = now() WHERE id = %s",
                (count, event_id),
            )
            await _queue(conn, rule, event_id, obs.vps_id, f"repeat:{count}", silences, now)
    return opens, resolves
