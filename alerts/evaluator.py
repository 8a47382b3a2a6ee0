"""One evaluation pass over every enabled rule, under a transaction-level advisory
lock: with several evaluators running, one evaluates at a time and the rest skip."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.kinds import observe_disk_full, observe_offline, observe_renewal, observe_traffic
from alerts.observation import Observation, Rule, group_fleet_outage
from alerts.settings import AlertsSettings
from alerts.state import apply_observations, open_events
from alerts.thresholds import observe_container_state, observe_threshold
from common.alert_metrics import CONTAINER_STATE_METRICS

__all__ = ["EVALUATE_LOCK_ID", "evaluate_once", "load_rules"]

log = logging.getLogger("tidewatch.alerts.evaluator")

EVALUATE_LOCK_ID = 0x7477_616C  # "twal"
_RULE_COLUMNS = (
    "id, name, kind, scope_vps_id, scope_labels, metric, metric_labels, comparator, threshold,"
    " duration_s, resolve_threshold, resolve_duration_s, repeat_every_s, params"
)


async def load_rules(conn: AsyncConnection[Any]) -> list[Rule]:
    rows = await (
        await conn.execute(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE enabled ORDER BY id")
    ).fetchall()
    return [Rule(*row) for row in rows]


async def _targets(conn: AsyncConnection[Any], rule: Rule) -> dict[int, str]:
    """The rule's scope now: a VPS added later with the label is covered."""
    rows = await (
        await conn.execute(
            "SELECT id, name FROM vps WHERE (%s::bigint IS NULL OR id = %s) AND labels @> %s::jsonb ORDER BY id",
            (rule.scope_vps_id, rule.scope_vps_id, json.dumps(rule.scope_labels)),
        )
    ).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


async def _observe(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str], settings: AlertsSettings, now: datetime
) -> list[Observation]:
    if rule.kind == "offline":
        return await observe_offline(conn, rule, targets, settings)
    if not targets:
        return []
    if rule.kind == "threshold":
        if rule.metric in CONTAINER_STATE_METRICS:
            return await observe_container_state(conn, rule, targets)
        return await observe_threshold(conn, rule, targets, settings)
    if rule.kind == "traffic":
        return await observe_traffic(conn, rule, targets, now)
    if rule.kind == "disk_full":
        return await observe_disk_full(conn, rule, targets)
    if rule.kind == "renewal":
        return await observe_renewal(conn, rule, targets)
    return []


async def evaluate_once(conn: AsyncConnection[Any], settings: AlertsSettings) -> bool:
    """Evaluate every rule in one transaction; False when another evaluator holds the lock."""
    async with conn.transaction():
        row = await (
            await conn.execute("SELECT pg_try_advisory_xact_lock(%s), now()", (EVALUATE_LOCK_ID,))
        ).fetchone()
        if row is None or not row[0]:
            return False
        now: datetime = row[1]
        cur = conn.cursor(row_factory=dict_row)
        silences = await (await cur.execute("SELECT * FROM alert_silences")).fetchall()
        for rule in await load_rules(conn):
            try:
                async with conn.transaction():
                    targets = await _targets(conn, rule)
                    observations = await _observe(conn, rule, targets, settings, now)
                    opened = await open_events(conn, rule.id)
                    if rule.kind == "offline":
                        vps_obs = [o for o in observations if o.target_key.startswith("vps:")]
                        others = [o for o in observations if not o.target_key.startswith("vps:")]
                        details = {k: v["details"] for k, v in opened.items()}
                        observations = others + group_fleet_outage(
                            vps_obs, details, len(targets), settings.fleet_outage_fraction
                        )
                    await apply_observations(conn, rule, observations, opened, silences, now)
            except Exception:
                # One broken rule must not stop the others; its savepoint rolled back.
                log.exception("rule %d (%s) failed to evaluate", rule.id, rule.name)
    return True
