"""Rollup refresh and retention where the database edition cannot do it.

On the Apache edition the collector refreshes every rollup incrementally from
its watermark (and from any recorded late data) and drops old chunks. Only one
collector does it at a time: the work runs under a session advisory lock that
the others fail to take and skip. On the Community edition native policies do
this, and the collector only checks the edition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from common.edition import Edition, parse_edition

__all__ = ["MAINTENANCE_LOCK_ID", "Maintenance"]

log = logging.getLogger("tidewatch.collector.maintenance")

MAINTENANCE_LOCK_ID = 0x7469_6466


class Maintenance:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], late_window: timedelta) -> None:
        self._pool = pool
        self._late_window = late_window
        self.edition: Edition | None = None

    async def detect_edition(self) -> Edition:
        async with self._pool.connection() as conn:
            row = await (await conn.execute("SELECT current_setting('timescaledb.license', true)")).fetchone()
        self.edition = parse_edition(row[0] if row else None)
        return self.edition

    async def run_once(self) -> dict[str, int] | None:
        """Refresh rollups and apply retention; None if another collector holds the lock."""
        edition = self.edition or await self.detect_edition()
        if edition is Edition.COMMUNITY:
            return {}
        written: dict[str, int] = {}
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
                    names = [
                        r[0]
                        for r in await (
                            await conn.execute(
                                "SELECT name FROM rollup_definitions ORDER BY bucket_width, name"
                            )
                        ).fetchall()
                    ]
                    for name in names:
                        row = await (
                            await conn.execute("SELECT tw_refresh_rollup(%s, %s)", (name, self._late_window))
                        ).fetchone()
                        written[name] = int(row[0]) if row else 0
                    dropped_row = await (await conn.execute("SELECT tw_apply_retention()")).fetchone()
                    dropped = int(dropped_row[0]) if dropped_row else 0
                    log.info(
                        "rollups refreshed (%d buckets) and %d old chunks dropped in %.2f s",
                        sum(written.values()),
                        dropped,
                        time.perf_counter() - started,
                    )
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
