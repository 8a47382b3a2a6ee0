"""Threshold rules in SQL: does the value hold past the line for the whole duration?

A window is judged held when every sample in it passes, its first sample is at or
before the window's start (the data covers it) and its newest is fresh. Resolve
uses the inverse test against the resolve threshold over the resolve duration,
so a value hovering between the two lines keeps the current state.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from alerts.observation import Observation, Rule
from alerts.settings import AlertsSettings
from common.alert_metrics import GENERIC_PREFIX, METRICS

__all__ = ["observe_container_state", "observe_threshold"]

_COMPARATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _series_source(rule: Rule, rollup: bool) -> tuple[sql.Composable, sql.Composable, dict[str, Any]]:
    """(FROM ... WHERE filters, item expression, params) for the rule's metric."""
    params: dict[str, Any] = {}
    if rule.metric.startswith(GENERIC_PREFIX):
        params["generic_name"] = rule.metric[len(GENERIC_PREFIX) :]
        params["generic_labels"] = _json(rule.metric_labels)
        generic: sql.Composable = sql.SQL(
            "SELECT m.vps_id, m.labels::text AS item, m.time, m.value::float8 AS value FROM generic_metrics m"
            " WHERE m.name = %(generic_name)s AND m.labels @> %(generic_labels)s::jsonb"
        )
        return generic, sql.SQL("item"), params
    metric = METRICS[rule.metric]
    table = metric.rollup if rollup else metric.table
    time_column = "bucket" if rollup else "time"
    value = metric.rollup_value if rollup else metric.value
    join: sql.Composable = sql.SQL("")
    item: sql.Composable = sql.SQL("''")
    filters: list[sql.Composable] = []
    if metric.item_column == "container_id":
        join = sql.SQL(" JOIN containers c ON c.vps_id = m.vps_id AND c.container_id = m.container_id")
        item = sql.SQL("c.name")
    elif metric.item_column:
        item = sql.SQL("m.") + sql.Identifier(metric.item_column)
    wanted = rule.metric_labels.get(metric.item_label) if metric.item_label else None
    if wanted is not None:
        params["item"] = wanted
        filters.append(sql.SQL(" AND {} = %(item)s").format(item))
    source = sql.SQL(
        "SELECT m.vps_id, {item} AS item, m.{time} AS time, ({value})::float8 AS value FROM {table} m{join}"
        " WHERE true{filters}"
    ).format(
        item=item,
        time=sql.Identifier(time_column),
        value=sql.SQL(value),  # from the catalogue, never from input
        table=sql.Identifier(table),
        join=join,
        filters=sql.SQL("").join(filters),
    )
    return source, sql.SQL("item"), params


def _json(value: dict[str, str]) -> str:
    import json

    return json.dumps(value)


async def observe_threshold(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str], settings: AlertsSettings
) -> list[Observation]:
    if rule.threshold is None or not targets:
        return []
    duration = rule.duration_s
    resolve_duration = rule.resolve_duration_s if rule.resolve_duration_s is not None else duration
    rollup = max(duration, resolve_duration) > settings.raw_window_max_s
    # Rollups lag by their bucket and their refresh: allow for it.
    slack = settings.sample_slack_s + (180.0 if rollup else 0.0)
    source, _, params = _series_source(rule, rollup)
    cmp = sql.SQL(_COMPARATORS[rule.comparator])
    query = sql.SQL(
        """
        WITH s AS ({source}), w AS (
            SELECT * FROM s WHERE vps_id = ANY(%(vps_ids)s) AND value IS NOT NULL
              AND time > now() - make_interval(secs => %(window)s)
        )
        SELECT vps_id, item,
               (array_agg(value ORDER BY time DESC))[1] AS last_value,
               max(time) >= now() - make_interval(secs => %(slack)s) AS fresh,
               coalesce(bool_and(value {cmp} %(threshold)s) FILTER (WHERE time > now() - make_interval(secs => %(fire_w)s)), false)
                 AND min(time) FILTER (WHERE time > now() - make_interval(secs => %(fire_w)s))
                     <= now() - make_interval(secs => %(duration)s) AS fire,
               coalesce(bool_and(NOT (value {cmp} %(resolve_threshold)s)) FILTER (WHERE time > now() - make_interval(secs => %(clear_w)s)), false)
                 AND min(time) FILTER (WHERE time > now() - make_interval(secs => %(clear_w)s))
                     <= now() - make_interval(secs => %(resolve_duration)s) AS clear
        FROM w GROUP BY vps_id, item
        """
    ).format(source=source, cmp=cmp)
    params.update(
        vps_ids=list(targets),
        window=max(duration, resolve_duration) + slack,
        slack=slack,
        threshold=rule.threshold,
        resolve_threshold=rule.resolve_threshold if rule.resolve_threshold is not None else rule.threshold,
        fire_w=duration + slack,
        clear_w=resolve_duration + slack,
        duration=duration,
        resolve_duration=resolve_duration,
    )
    rows = await (await conn.execute(query, params)).fetchall()
    out: list[Observation] = []
    for vps_id, item, value, fresh, fire, clear in rows:
        label = targets[vps_id] + (f" {item}" if item else "")
        key = f"vps:{vps_id}" + (f"/{item}" if item else "")
        summary = f"{rule.metric} is {value:.4g} ({rule.comparator} {rule.threshold:g} for {duration:g} s)"
        out.append(
            Observation(key, vps_id, label, fire=bool(fire and fresh), clear=bool(clear), value=value,
                        summary=summary, details={"metric": rule.metric, "item": item})
        )  # fmt: skip
    return out


async def observe_container_state(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str]
) -> list[Observation]:
    """container_not_running: not running for the duration; container_restarting:
    restarts within max(duration, 5 min) compared with the threshold (default 1)."""
    wanted = rule.metric_labels.get("container")
    if rule.metric == "container_not_running":
        query = """
            SELECT vps_id, name, state,
                   state <> 'running' AND coalesce(finished_at, last_seen) <= now() - make_interval(secs => %(d)s),
                   state = 'running' AND coalesce(started_at, last_seen) <= now() - make_interval(secs => %(rd)s)
            FROM containers WHERE removed_at IS NULL AND vps_id = ANY(%(ids)s)
              AND (%(name)s::text IS NULL OR name = %(name)s)
        """
        params = {
            "d": rule.duration_s,
            "rd": rule.resolve_duration_s if rule.resolve_duration_s is not None else 0.0,
            "ids": list(targets),
            "name": wanted,
        }
        rows = await (await conn.execute(query, params)).fetchall()
        return [
            Observation(f"vps:{v}/{name}", v, f"{targets[v]} {name}", bool(fire), bool(clear),
                        value=0.0 if state == "running" else 1.0, summary=f"container {name} is {state}")
            for v, name, state, fire, clear in rows
        ]  # fmt: skip
    threshold = rule.threshold if rule.threshold is not None else 1.0
    query = """
        SELECT c.vps_id, c.name, count(e.id)
        FROM containers c LEFT JOIN container_events e ON e.vps_id = c.vps_id AND e.container_id = c.container_id
             AND e.event = 'restarted' AND e.time > now() - make_interval(secs => %(w)s)
        WHERE c.removed_at IS NULL AND c.vps_id = ANY(%(ids)s) AND (%(name)s::text IS NULL OR c.name = %(name)s)
        GROUP BY c.vps_id, c.name
    """
    params2 = {"w": max(rule.duration_s, 300.0), "ids": list(targets), "name": wanted}
    rows = await (await conn.execute(query, params2)).fetchall()
    return [
        Observation(f"vps:{v}/{name}", v, f"{targets[v]} {name}", fire=count >= threshold, clear=count == 0,
                    value=float(count), summary=f"container {name} restarted {count} times")
        for v, name, count in rows
    ]  # fmt: skip
