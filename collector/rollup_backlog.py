"""A large rollup backlog (a first refresh over weeks of data, a restored backup)
is worked off in bounded slices, each its own transaction, with progress logged.

One statement over 30 days of raw rows sorted and spilled gigabytes of temp files
(issue 12); a slice of SLICE_BUCKETS buckets keeps each sort small, and a crash
keeps the slices already committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

__all__ = ["SLICE_BUCKETS", "catch_up_rollup", "slices"]

log = logging.getLogger("tidewatch.collector.maintenance")

# A day of 1-minute buckets, 60 days of 1-hour ones.
SLICE_BUCKETS = 1440

_STATE = """
SELECT d.bucket_width, w.watermark, time_bucket(d.bucket_width, now()) AS now_bucket
FROM rollup_definitions d JOIN rollup_watermarks w USING (name)
WHERE d.name = %s
"""


def slices(start: datetime, end: datetime, width: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive pieces of at most ``width``."""
    while start < end:
        yield start, min(start + width, end)
        start += width


async def source_start(conn: AsyncConnection[Any], name: str) -> datetime | None:
    """The first bucket of ``name``'s source data, or None when it has none."""
    cur = await conn.execute(
        "SELECT d.bucket_width, d.source_table, d.time_column FROM rollup_definitions d WHERE d.name = %s",
        (name,),
    )
    row = await cur.fetchone()
    assert row is not None, name
    width, source, column = row
    first = await (
        await conn.execute(
            sql.SQL("SELECT time_bucket(%s::interval, min({})) FROM {}").format(
                sql.Identifier(column), sql.Identifier(source)
            ),
            (width,),
        )
    ).fetchone()
    return first[0] if first else None


async def catch_up_rollup(conn: AsyncConnection[Any], name: str, late_window: timedelta) -> int:
    """Apache edition: rebuild ``name`` from its watermark in slices of SLICE_BUCKETS
    buckets, moving the watermark after each, until what is left for
    ``tw_refresh_rollup`` is less than one slice. Returns the buckets written.

    ``conn`` is in autocommit mode; each slice is one transaction.
    """
    row = await (await conn.execute(_STATE, (name,))).fetchone()
    assert row is not None, name
    width: timedelta = row[0]
    now_bucket: datetime = row[2]
    if row[1] is None:  # never refreshed (sql/0008)
        start = await source_start(conn, name)
        if start is None:
            return 0
    else:
        start = row[1] - late_window
    # tw_refresh_rollup restarts at the watermark less the late window: leave it at least a slice.
    step = width * SLICE_BUCKETS
    stop = now_bucket - late_window - step
    if start >= stop:
        return 0
    pieces = list(slices(start, stop, step))
    written = 0
    for index, (lo, hi) in enumerate(pieces, 1):
        async with conn.transaction():
            if index == 1:
                # Late data from here on is covered by the slices and the refresh after them;
                # left recorded, it would send tw_refresh_rollup over the whole backlog again.
                await conn.execute(
                    "DELETE FROM rollup_invalidations WHERE rollup = %s AND from_time >= %s", (name, lo)
                )
            await conn.execute(
                sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(sql.Identifier(name)),
                (lo, hi),
            )
            query = await (
                await conn.execute("SELECT tw_rollup_query(%s, %s, %s)", (name, lo, hi))
            ).fetchone()
            assert query is not None
            cur = await conn.execute(
                sql.SQL("INSERT INTO {} {}").format(sql.Identifier(name), sql.SQL(query[0]))
            )
            written += max(cur.rowcount, 0)
            # The next refresh starts at watermark - late window, which is this slice's end.
            await conn.execute(
                "UPDATE rollup_watermarks SET watermark = %s WHERE name = %s", (hi + late_window, name)
            )
        log.info("rollup %s: backlog slice %d of %d done, up to %s", name, index, len(pieces), hi.isoformat())
    return written
