"""What a series request needs besides its rows, at the least round trips.

Retention decides which tiers still hold a range (``Coverage``); it changes
only when an admin changes it, so it is read at most every
``RETENTION_TTL_S`` per table and process, not per request. Whether the VPS
exists is asked only when its series come back empty (an existing VPS without
samples answers with empty series, a missing one with 404).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from api.resources import Connection

__all__ = ["RETENTION_TTL_S", "Retention", "retention", "vps_exists"]

# A changed retention shows in tier choice within this long.
RETENTION_TTL_S = 30.0

_RETENTION = """
SELECT coalesce((SELECT keep FROM retention_settings WHERE relation = %(raw)s), interval '7 days') AS raw_keep,
       coalesce((SELECT keep FROM retention_settings WHERE relation = %(rollup_1m)s), interval '90 days') AS keep_1m
"""


@dataclass(frozen=True, slots=True)
class Retention:
    raw_keep: timedelta
    keep_1m: timedelta
    read_at: float


_cache: dict[str, Retention] = {}


async def retention(db: Connection, table: str) -> Retention:
    """The raw table's and its 1-minute rollup's retention, at most ``RETENTION_TTL_S`` old."""
    now = time.monotonic()
    known = _cache.get(table)
    if known is not None and now - known.read_at < RETENTION_TTL_S:
        return known
    cur = await db.execute(_RETENTION, {"raw": table, "rollup_1m": f"{table}_1m"})
    row = await cur.fetchone()
    assert row is not None
    known = _cache[table] = Retention(row["raw_keep"], row["keep_1m"], now)
    return known


async def vps_exists(db: Connection, vps_id: int) -> bool:
    cur = await db.execute("SELECT EXISTS (SELECT 1 FROM vps WHERE id = %s) AS vps_exists", (vps_id,))
    row = await cur.fetchone()
    return bool(row and row["vps_exists"])
