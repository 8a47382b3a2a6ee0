"""Monthly traffic from ``tw_traffic_daily`` (the reset-aware byte deltas), cut into
each VPS's cycles by :mod:`common.traffic`."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from api.resources import Connection
from common.api_models.alerts import TrafficCycle, TrafficQuotaOut, TrafficVpsOut
from common.traffic import CycleUsage, DailyBytes, cycle_starts, cycles_from_days, forecast, used_bytes

__all__ = ["QUOTA_SELECT", "quota_out", "traffic_for"]

QUOTA_SELECT = (
    "SELECT id, name, traffic_quota_bytes, traffic_quota_direction, traffic_reset_day, traffic_timezone,"
    " traffic_warn_percents FROM vps"
)


def quota_out(row: dict[str, Any]) -> TrafficQuotaOut:
    return TrafficQuotaOut(
        vps_id=row["id"],
        quota_bytes=row["traffic_quota_bytes"],
        direction=row["traffic_quota_direction"],
        reset_day=row["traffic_reset_day"],
        timezone=row["traffic_timezone"],
        warn_percents=list(row["traffic_warn_percents"]),
    )


def _cycle(cycle: CycleUsage, direction: str) -> TrafficCycle:
    return TrafficCycle(
        start=cycle.start,
        end=cycle.end,
        rx_bytes=cycle.rx_bytes,
        tx_bytes=cycle.tx_bytes,
        used_bytes=used_bytes(cycle.rx_bytes, cycle.tx_bytes, direction),
    )


async def traffic_for(db: Connection, rows: list[dict[str, Any]], cycles: int) -> list[TrafficVpsOut]:
    """The current and ``cycles - 1`` past cycles of each VPS in ``rows`` (QUOTA_SELECT rows)."""
    if not rows:
        return []
    now = datetime.now(UTC)
    starts = {
        r["id"]: cycle_starts(now, r["traffic_reset_day"], r["traffic_timezone"], cycles)[0] for r in rows
    }
    daily: dict[int, list[DailyBytes]] = defaultdict(list)
    for item in await (
        await db.execute(
            "SELECT vps_id, day, rx_bytes, tx_bytes FROM tw_traffic_daily(%s, %s)",
            (list(starts), min(starts.values())),
        )
    ).fetchall():
        daily[item["vps_id"]].append(DailyBytes(item["day"], int(item["rx_bytes"]), int(item["tx_bytes"])))
    out: list[TrafficVpsOut] = []
    for row in rows:
        quota = quota_out(row)
        history = cycles_from_days(daily[row["id"]], now, quota.reset_day, quota.timezone, cycles)
        current = history[-1]
        outlook = forecast(current, now, quota.direction, quota.quota_bytes)
        out.append(
            TrafficVpsOut(
                vps_id=row["id"],
                name=row["name"],
                quota=quota,
                current=_cycle(current, quota.direction),
                past=[_cycle(c, quota.direction) for c in history[:-1]],
                projected_bytes=outlook.projected_bytes,
                bytes_per_day=outlook.bytes_per_day,
                exhausted_at=outlook.exhausted_at,
                used_percent=100.0 * outlook.used_bytes / quota.quota_bytes if quota.quota_bytes else None,
            )
        )
    return out
