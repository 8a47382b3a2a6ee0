"""Community edition: refresh continuous aggregates from the collector, not from policies.

Refresh policies look back only 3 hours (1-minute) or 3 days (1-hour), and on
PostgreSQL 17.12 their background jobs fail. So, like tw_refresh_rollup() on the
Apache edition, each pass refreshes every aggregate over its recent window (from
its watermark less the late-data window) and over exactly the ranges late data
touched, as ingest recorded them in ``rollup_invalidations``. Those rows are
deleted only after their refresh committed: a crash in between refreshes again,
never loses data.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from collector.late_data import TimeRange, merge_ranges
from collector.rollup_backlog import SLICE_BUCKETS, slices, source_start

__all__ = ["refresh_continuous_aggregates", "refresh_windows"]

log = logging.getLogger("tidewatch.collector.maintenance")

_RECENT = """
SELECT d.bucket_width,
       time_bucket(d.bucket_width, w.watermark - %(late)s) AS recent_from,
       time_bucket(d.bucket_width, now()) AS now_bucket
FROM rollup_definitions d JOIN rollup_watermarks w USING (name)
WHERE d.name = %(name)s
"""

# Each recorded range, widened to whole buckets (an open end: up to now).
_INVALIDATED = """
SELECT i.ctid::text,
       time_bucket(d.bucket_width, i.from_time),
       time_bucket(d.bucket_width, coalesce(i.to_time, now())) + d.bucket_width
FROM rollup_invalidations i JOIN rollup_definitions d ON d.name = i.rollup
WHERE i.rollup = %s
"""


def refresh_windows(
    width: timedelta, recent_from: datetime, now_bucket: datetime, invalidated: list[TimeRange]
) -> list[TimeRange]:
    """The windows to refresh: the recent one and each invalidated range, merged, ending
    at the current bucket (still filling; real-time aggregation covers it)."""
    clamped = [(start, min(end, now_bucket)) for start, end in invalidated if start < now_bucket]
    windows = merge_ranges([(min(recent_from, now_bucket - width), now_bucket), *clamped])
    return [(start, end) for start, end in windows if end > start]


async def _refresh_one(conn: AsyncConnection[Any], name: str, late_window: timedelta) -> int:
    cur = await conn.execute(_RECENT, {"late": late_window, "name": name})
    row = await cur.fetchone()
    assert row is not None, name
    width: timedelta = row[0]
    recent_from: datetime | None = row[1]  # None: never refreshed
    now_bucket: datetime = row[2]
    consumed: list[str] = []
    invalidated: list[TimeRange] = []
    for ctid, start, end in await (await conn.execute(_INVALIDATED, (name,))).fetchall():
        consumed.append(ctid)
        invalidated.append((start, end))

    if recent_from is None:
        # Never refreshed: from the first source bucket (none: nothing to do but the window's end).
        first = await source_start(conn, name)
        windows: list[TimeRange] = [(first or now_bucket - width, now_bucket)]
    else:
        windows = list(refresh_windows(width, recent_from, now_bucket, invalidated))
    for start, end in windows:
        pieces = list(slices(start, end, width * SLICE_BUCKETS))
        # A long window (a backlog) in bounded slices, each its own transaction, with progress logged.
        for index, (lo, hi) in enumerate(pieces, 1):
            await conn.execute(
                "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
                (name, lo, hi),
            )
            if len(pieces) > 1:
                log.info(
                    "rollup %s: backlog slice %d of %d done, up to %s",
                    name,
                    index,
                    len(pieces),
                    hi.isoformat(),
                )
        if recent_from is not None and start < recent_from:
            # Rollups built on this one (the 1-hour ones) saw the old buckets: pass the range on.
            await conn.execute("SELECT tw_record_late_data(%s::text, %s, %s)", (name, start, end))
    await conn.execute("UPDATE rollup_watermarks SET watermark = %s WHERE name = %s", (now_bucket, name))
    if consumed:
        await conn.execute("DELETE FROM rollup_invalidations WHERE ctid = ANY(%s::tid[])", (consumed,))
    counted = 0
    for start, end in windows:
        cur = await conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE bucket >= coalesce(%s::timestamptz, '-infinity') AND bucket < %s"
            ).format(sql.Identifier(name)),
            (start, end),
        )
        got = await cur.fetchone()
        counted += int(got[0]) if got else 0
    return counted


async def refresh_continuous_aggregates(conn: AsyncConnection[Any], late_window: timedelta) -> dict[str, int]:
    """Refresh every rollup, 1-minute ones first; returns the buckets in each one's refreshed windows.

    ``conn`` is in autocommit mode: ``refresh_continuous_aggregate`` refuses a transaction block.
    """
    cur = await conn.execute("SELECT name FROM rollup_definitions ORDER BY bucket_width, name")
    names = [str(r[0]) for r in await cur.fetchall()]
    return {name: await _refresh_one(conn, name, late_window) for name in names}
