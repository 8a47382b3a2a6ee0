"""Offline, traffic quota, disk-full and renewal rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from alerts.observation import Observation, Rule
from alerts.settings import AlertsSettings
from common.traffic import DailyBytes, cycle_starts, cycles_from_days, forecast, used_bytes
from common.trend import DISK_TREND_SQL, seconds_until_full

__all__ = ["collector_state", "observe_disk_full", "observe_offline", "observe_renewal", "observe_traffic"]


async def collector_state(
    conn: AsyncConnection[Any], grace_s: float, stale_s: float
) -> tuple[bool, bool, bool]:
    """(some collector is heartbeating, none started or resumed within the grace period,
    collectors have been silent for longer than the grace period).

    After any collector (re)start or heartbeat gap, agents get the grace period to
    reconnect before anyone is judged offline: a crashed collector's row still looks
    fresh for a while, so the newest start counts, not the freshest heartbeat."""
    row = await (
        await conn.execute(
            "SELECT coalesce(bool_or(heartbeat_at > now() - make_interval(secs => %(stale)s)), false),"
            " coalesce(max(up_since) <= now() - make_interval(secs => %(grace)s), false),"
            " coalesce(max(heartbeat_at) < now() - make_interval(secs => greatest(%(grace)s, %(stale)s)), false)"
            " FROM collector_instances",
            {"stale": stale_s, "grace": grace_s},
        )
    ).fetchone()
    if row is None:
        return False, False, False
    return bool(row[0]), bool(row[0]) and bool(row[1]), bool(row[2])


async def observe_offline(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str], settings: AlertsSettings
) -> list[Observation]:
    """Agent offline: silent for the grace period while a collector that has itself been
    up for the grace period was listening. With no collector listening, one
    'collector' incident instead; agents are not judged until it has been back a while."""
    grace = float(rule.params.get("grace_s", settings.offline_grace_s))
    alive, settled, down = await collector_state(conn, grace, settings.collector_stale_s)
    collector = Observation(
        "collector", None, "collector", fire=down, clear=alive,
        summary="no collector is running: agents cannot report" if down else "a collector is running",
    )  # fmt: skip
    if not settled:
        return [collector]
    rows = await (
        await conn.execute(
            "SELECT id, last_seen, connected_collector IS NOT NULL, now() - last_seen > make_interval(secs => %s)"
            " FROM vps WHERE id = ANY(%s) AND last_seen IS NOT NULL",
            (grace, list(targets)),
        )
    ).fetchall()
    out = [collector]
    for vps_id, last_seen, connected, silent in rows:
        out.append(
            Observation(
                f"vps:{vps_id}", vps_id, targets[vps_id], fire=bool(silent), clear=bool(connected and not silent),
                value=None, summary=f"{targets[vps_id]} is offline (last seen {last_seen:%Y-%m-%d %H:%M:%S %Z})"
                if silent else f"{targets[vps_id]} is online", details={"last_seen": last_seen.isoformat()},
            )
        )  # fmt: skip
    return out


async def observe_traffic(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str], now: datetime
) -> list[Observation]:
    """One target per VPS and warn percentage: fires at the percentage of the quota,
    clears when the cycle resets (or the quota is raised)."""
    rows = await (
        await conn.execute(
            "SELECT id, traffic_reset_day, traffic_timezone, traffic_quota_bytes, traffic_quota_direction,"
            " traffic_warn_percents FROM vps WHERE id = ANY(%s) AND traffic_quota_bytes IS NOT NULL",
            (list(targets),),
        )
    ).fetchall()
    out: list[Observation] = []
    for vps_id, reset_day, tz, quota, direction, percents in rows:
        start = cycle_starts(now, reset_day, tz, 1)[0]
        daily = await (
            await conn.execute(
                "SELECT day, rx_bytes, tx_bytes FROM tw_traffic_daily(%s, %s)", ([vps_id], start)
            )
        ).fetchall()
        cycle = cycles_from_days(
            [DailyBytes(d, int(rx), int(tx)) for d, rx, tx in daily], now, reset_day, tz, 1
        )[0]
        used = used_bytes(cycle.rx_bytes, cycle.tx_bytes, direction)
        outlook = forecast(cycle, now, direction, quota)
        share = 100.0 * used / quota
        for percent in percents:
            out.append(
                Observation(
                    f"vps:{vps_id}/traffic>={percent:g}%", vps_id, f"{targets[vps_id]} traffic {percent:g}%",
                    fire=share >= percent, clear=share < percent, value=share,
                    summary=f"{targets[vps_id]} used {share:.1f}% of its monthly traffic ({direction})",
                    details={"used_bytes": used, "quota_bytes": quota, "projected_bytes": outlook.projected_bytes,
                             "exhausted_at": outlook.exhausted_at.isoformat() if outlook.exhausted_at else None},
                )
            )  # fmt: skip
    return out


async def observe_disk_full(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str]
) -> list[Observation]:
    """Per mount: projected time to full under horizon_hours fires; over 1.2x clears."""
    horizon_s = float(rule.params.get("horizon_hours", 24.0)) * 3600.0
    lookback_s = float(rule.params.get("lookback_hours", 6.0)) * 3600.0
    mount = rule.metric_labels.get("mountpoint")
    rows = await (await conn.execute(DISK_TREND_SQL, (list(targets), lookback_s, mount, mount))).fetchall()
    series: dict[tuple[int, str], list[tuple[float, float, float]]] = defaultdict(list)
    for vps_id, mount, t, used, total in rows:
        series[(vps_id, mount)].append((t, used, total))
    out: list[Observation] = []
    for (vps_id, mount), points in series.items():
        left = seconds_until_full([p[0] for p in points], [p[1] for p in points], points[-1][2])
        hours = None if left is None else left / 3600.0
        out.append(
            Observation(
                f"vps:{vps_id}/{mount}", vps_id, f"{targets[vps_id]} {mount}",
                fire=left is not None and left < horizon_s, clear=left is None or left > 1.2 * horizon_s,
                value=hours,
                summary=f"{mount} on {targets[vps_id]} full in {hours:.1f} h" if hours is not None
                else f"{mount} on {targets[vps_id]} is not filling",
                details={"hours_until_full": hours},
            )
        )  # fmt: skip
    return out


async def observe_renewal(
    conn: AsyncConnection[Any], rule: Rule, targets: dict[int, str]
) -> list[Observation]:
    """Fires days_before the expiry date (auto-renewing VPSes only with include_auto_renew)."""
    days_before = int(rule.params.get("days_before", 7))
    include_auto = bool(rule.params.get("include_auto_renew", False))
    rows = await (
        await conn.execute(
            "SELECT vps_id, expires_on, expires_on - current_date, provider, price, currency FROM vps_billing"
            " WHERE vps_id = ANY(%s) AND expires_on IS NOT NULL AND (%s OR NOT auto_renew)",
            (list(targets), include_auto),
        )
    ).fetchall()
    return [
        Observation(
            f"vps:{vps_id}", vps_id, targets[vps_id], fire=days_left <= days_before, clear=days_left > days_before,
            value=float(days_left),
            summary=f"{targets[vps_id]} ({provider or 'provider unknown'}) expires on {expires:%Y-%m-%d},"
            f" in {days_left} days" + (f"; {price} {currency}" if price is not None else ""),
            details={"expires_on": expires.isoformat()},
        )
        for vps_id, expires, days_left, provider, price, currency in rows
    ]  # fmt: skip
