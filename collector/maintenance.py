"""Rollup refresh, retention and a check of TimescaleDB's jobs, on both editions.

Correctness never waits on TimescaleDB's background workers (on PostgreSQL
17.12 every one of their jobs fails; docs/timescaledb.md). Each pass, under a
session advisory lock that other collectors fail to take and skip:

- refreshes every rollup from its watermark less the late-data window and from
  any late data ingest recorded, emptying ``rollup_invalidations``:
  ``tw_refresh_rollup()`` on the Apache edition (plain hypertables),
  ``CALL refresh_continuous_aggregate`` on the Community edition; a backlog
  (a first refresh over weeks of data) goes in slices of a bounded number of
  buckets, each committed and logged as it ends;
- applies ``retention_settings`` with ``tw_apply_retention()`` (drop_chunks; on
  the Community edition it also replaces retention policies that differ);
- reads ``tw_job_problems()`` and reports failing or stale jobs as metrics and
  a warning naming each job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from collector import metrics
from collector.cagg_refresh import refresh_continuous_aggregates
from collector.rollup_backlog import catch_up_rollup
from common.edition import Edition, parse_edition
from common.jobs import JobProblem, describe, read_job_problems

__all__ = ["MAINTENANCE_LOCK_ID", "Maintenance"]

log = logging.getLogger("tidewatch.collector.maintenance")

MAINTENANCE_LOCK_ID = 0x7469_6466


async def _refresh_rollup_tables(conn: AsyncConnection[Any], late_window: timedelta) -> dict[str, int]:
    """Apache edition: buckets written per rollup, 1-minute ones first; a backlog
    in bounded slices first (collector.rollup_backlog)."""
    cur = await conn.execute("SELECT name FROM rollup_definitions ORDER BY bucket_width, name")
    written: dict[str, int] = {}
    for (name,) in await cur.fetchall():
        backlog = await catch_up_rollup(conn, name, late_window)
        row = await (await conn.execute("SELECT tw_refresh_rollup(%s, %s)", (name, late_window))).fetchone()
        written[name] = backlog + (int(row[0]) if row else 0)
    return written


def _report_jobs(problems: list[JobProblem]) -> None:
    metrics.TIMESCALEDB_JOB_PROBLEMS.clear()
    for problem in problems:
        metrics.TIMESCALEDB_JOB_PROBLEMS.labels(problem.job_name, problem.problem).set(1)
        log.warning(
            "TimescaleDB job %s; Tidewatch's maintenance keeps rollups and retention right regardless",
            describe(problem),
        )


class Maintenance:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], late_window: timedelta) -> None:
        self._pool = pool
        self._late_window = late_window
        self.edition: Edition | None = None
        self.job_problems: list[JobProblem] = []

    async def detect_edition(self) -> Edition:
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT current_setting('timescaledb.license', true)")).fetchone()
        self.edition = parse_edition(row[0] if row else None)
        return self.edition

    async def run_once(self) -> dict[str, int] | None:
        """Refresh rollups, apply retention and check jobs; returns the buckets each
        refresh wrote (Apache) or holds in its window (Community), or None if another
        collector holds the lock."""
        edition = self.edition or await self.detect_edition()
        async with self._pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                got = await (
                    await conn.execute("SELECT pg_try_advisory_lock(%s)", (MAINTENANCE_LOCK_ID,))
                ).fetchone()
                if not got or not got[0]:
                    return None
                try:
                    started = time.perf_counter()
                    if edition is Edition.COMMUNITY:
                        written = await refresh_continuous_aggregates(conn, self._late_window)
                    else:
                        written = await _refresh_rollup_tables(conn, self._late_window)
                    dropped_row = await (await conn.execute("SELECT tw_apply_retention()")).fetchone()
                    dropped = int(dropped_row[0]) if dropped_row else 0
                    log.info(
                        "rollups refreshed (%d buckets) and %d old chunks dropped in %.2f s",
                        sum(written.values()),
                        dropped,
                        time.perf_counter() - started,
                    )
                    metrics.MAINTENANCE_SUCCESS_TIME.set_to_current_time()
                    self.job_problems = await read_job_problems(conn)
                    _report_jobs(self.job_problems)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (MAINTENANCE_LOCK_ID,))
            finally:
                await conn.set_autocommit(False)
        return written

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("maintenance failed (will retry in %.0f s): %s", interval_s, str(exc).strip())
            await asyncio.sleep(interval_s)
