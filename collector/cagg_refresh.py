"""Community edition: refresh continuous aggregates from the collector, not from policies.

Refresh policies look back only 3 hours (1-minute) or 3 days (1-hour), and on
PostgreSQL 17.12 their background jobs fail. So, like tw_refresh_rollup() on the
Apache edition, each pass refreshes every aggregate from its watermark less the
late-data window, and from the earliest late data ingest recorded in
``rollup_invalidations``. ``refresh_continuous_aggregate`` re-materializes only
the ranges TimescaleDB logged as changed inside that window, so a wide window
costs what the late rows cost. Invalidations are deleted only after their
refresh committed: a crash in between refreshes again, never loses data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

__all__ = ["refresh_continuous_aggregates"]

_WINDOW = """
SELECT d.bucket_width,
       time_bucket(d.bucket_width, least(w.watermark - %(late)s, %(invalid_from)s)) AS from_time,
       time_bucket(d.bucket_width, now()) AS to_time,
       w.watermark IS NOT NULL
         AND %(invalid_from)s < time_bucket(d.bucket_width, w.watermark - %(late)s) AS below_window
FROM rollup_definitions d JOIN rollup_watermarks w USING (name)
WHERE d.name = %(name)s
"""


async def _refresh_one(conn: AsyncConnection[Any], name: str, late_window: timedelta) -> int:
    cur = await conn.execute(
        "SELECT array_agg(ctid::text), min(from_time) FROM rollup_invalidations WHERE rollup = %s", (name,)
    )
    consumed, invalid_from = await cur.fetchone() or (None, None)
    cur = await conn.execute(_WINDOW, {"late": late_window, "invalid_from": invalid_from, "name": name})
    row = await cur.fetchone()
    assert row is not None, name
    width: timedelta = row[0]
    from_time: datetime | None = row[1]  # None: never refreshed, so from the beginning
    to_time: datetime = row[2]  # the current bucket is still filling; real-time aggregation covers it
    if from_time is not None and to_time - from_time < width:
        from_time = to_time - width
    await conn.execute(
        "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
        (name, from_time, to_time),
    )
    if row[3] and from_time is not None:
        # Rollups built on this one (the 1-hour ones) saw the old buckets: pass the invalidation on.
        await conn.execute("SELECT tw_record_late_data(%s::text, %s)", (name, from_time))
    await conn.execute("UPDATE rollup_watermarks SET watermark = %s WHERE name = %s", (to_time, name))
    if consumed:
        await conn.execute("DELETE FROM rollup_invalidations WHERE ctid = ANY(%s::tid[])", (consumed,))
    cur = await conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {} WHERE bucket >= coalesce(%s::timestamptz, '-infinity') AND bucket < %s"
        ).format(sql.Identifier(name)),
        (from_time, to_time),
    )
    counted = await cur.fetchone()
    return int(counted[0]) if counted else 0


async def refresh_continuous_aggregates(conn: AsyncConnection[Any], late_window: timedelta) -> dict[str, int]:
    """Refresh every rollup, 1-minute ones first; returns the buckets in each refreshed window.

    ``conn`` is in autocommit mode: ``refresh_continuous_aggregate`` refuses a transaction block.
    """
    cur = await conn.execute("SELECT name FROM rollup_definitions ORDER BY bucket_width, name")
    names = [str(r[0]) for r in await cur.fetchall()]
    return {name: await _refresh_one(conn, name, late_window) for name in names}
