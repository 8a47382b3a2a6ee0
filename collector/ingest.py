"""Coalesce batches from all agents and write them to TimescaleDB.

Batches queue in memory (bounded by rows). A flusher takes up to
``flush_max_rows`` rows, or whatever waited ``flush_interval_ms``, and writes
them in ONE transaction: the batch ids go into ``ingested_batches`` (replays
conflict and are skipped), then binary COPY per table, container metadata,
late-data invalidations and the live NOTIFY. Each batch's future resolves only
after COMMIT, and only then does the agent get its ack.

When the database is down the flusher keeps the batches and retries: nothing
accepted is dropped, agents just wait for acks. A flush has a client-side time
limit (``db_write_timeout_s``, collector/database.py): when a frozen database
lets it expire, even during COMMIT, the outcome is unknown, so the batches are
not acked but kept and written again; ``ingested_batches`` recognises any that
did commit. A batch the database refuses (which validation should have caught)
is isolated and rejected alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from collector import metrics, tables
from collector.containers import ContainerCache, write_containers
from collector.database import Database
from collector.late_data import TimeRange, merge_ranges
from collector.live_notify import LiveNotifier
from collector.rows import ConvertedBatch
from common.backoff import Backoff
from common.change_signal import ChangeSignal

__all__ = ["AckResult", "IngestWriter", "Outcome", "QueueFull"]

log = logging.getLogger("tidewatch.collector.ingest")

# Late rows closer than one 1-minute bucket share buckets: one range to refresh.
LATE_RANGE_GAP = timedelta(minutes=1)
INVALID_ARGUMENT = 3


class Outcome(Enum):
    STORED = 1
    DUPLICATE = 2
    REJECTED = 3


@dataclass(frozen=True, slots=True)
class AckResult:
    outcome: Outcome
    status_code: int = 0
    detail: str = ""


_STORED = AckResult(Outcome.STORED)
_DUPLICATE = AckResult(Outcome.DUPLICATE)


class QueueFull(Exception):
    """The ingest queue stayed full; the agent should keep the batch and retry."""


@dataclass(slots=True)
class PendingBatch:
    vps_id: int
    epoch: int
    batch: ConvertedBatch
    future: asyncio.Future[AckResult]
    # Counted once: the queue, the flush and its insert each need it.
    row_count: int
    # The batch's identity (vps, epoch, sequence, time), looked up several times per flush.
    key: tuple[int, int, int, datetime]
    received_monotonic: float = field(default_factory=time.monotonic)

    @property
    def weight(self) -> int:
        """Its share of the queue: an empty batch still takes a place."""
        return max(self.row_count, 1)


class IngestWriter:
    """The only writer of metric rows. Call ``submit`` from stream handlers."""

    def __init__(
        self,
        db: Database,
        *,
        flush_max_rows: int,
        flush_interval_ms: int,
        queue_max_rows: int,
        late_window: timedelta,
        flushers: int = 2,
    ) -> None:
        self._db = db
        self._flush_max_rows = flush_max_rows
        self._flush_interval = flush_interval_ms / 1000
        self._queue_max_rows = queue_max_rows
        self._late_window = late_window
        self._flushers = flushers
        self._queue: deque[PendingBatch] = deque()
        self._queued_rows = 0
        self._changed = ChangeSignal()
        # One flusher takes from the queue at a time, so each takes a full flush.
        self._taking = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._containers = ContainerCache()
        self._live = LiveNotifier()

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @property
    def queued_batches(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name=f"ingest-flusher-{i}") for i in range(self._flushers)
        ]

    async def wait_for_room(self, wait_s: float) -> None:
        """Return once the queue is below its cap; raise QueueFull after ``wait_s``.

        Stream handlers call this before converting a batch, so an overloaded
        collector does not spend its CPU on batches it then refuses.
        """
        if not self._closing and self._queued_rows < self._queue_max_rows:
            return  # what _wait_until would answer at once
        await self._wait_until(lambda: self._queued_rows < self._queue_max_rows, wait_s)

    async def submit(
        self, vps_id: int, epoch: int, batch: ConvertedBatch, wait_s: float
    ) -> asyncio.Future[AckResult]:
        """Queue a batch; its future resolves after commit. Raises QueueFull after ``wait_s``."""
        row_count = batch.row_count
        rows = max(row_count, 1)
        queued = self._queued_rows
        # The common case: room, and no flusher to wake (see below): what the path
        # below does, without its checks.
        if (
            not self._closing
            and self._queue
            and queued + rows <= self._queue_max_rows
            and queued + rows < self._flush_max_rows
        ):
            return self._append(vps_id, epoch, batch, row_count)
        # A batch larger than the whole queue still goes in alone, or it never could.
        await self._wait_until(
            lambda: self._queued_rows == 0 or self._queued_rows + rows <= self._queue_max_rows, wait_s
        )
        # No await from the check above to the append: the room is still there.
        was_empty = not self._queue
        future = self._append(vps_id, epoch, batch, row_count)
        # Only flushers wait for a submit: for a first batch, or for a full flush.
        # Waking them on every batch costs two task switches per batch for nothing.
        if was_empty or self._queued_rows >= self._flush_max_rows:
            self._changed.notify_all()
        return future

    def _append(
        self, vps_id: int, epoch: int, batch: ConvertedBatch, row_count: int
    ) -> asyncio.Future[AckResult]:
        """Queue the batch now (received now, for the flush interval); its future."""
        future: asyncio.Future[AckResult] = asyncio.get_running_loop().create_future()
        pending = PendingBatch(
            vps_id, epoch, batch, future, row_count, (vps_id, epoch, batch.sequence, batch.dedup_time)
        )
        self._queue.append(pending)
        self._queued_rows += pending.weight
        metrics.QUEUE_ROWS.set(self._queued_rows)
        return future

    async def _wait_until(self, room: Callable[[], bool], wait_s: float) -> None:
        """Wait for ``room()``, or raise QueueFull (timeout, shutdown)."""
        if self._closing:
            raise QueueFull("collector is shutting down")
        if not await self._changed.wait_for(lambda: room() or self._closing, wait_s):
            raise QueueFull(f"ingest queue full ({self._queued_rows} rows waiting for the database)")
        if self._closing:
            raise QueueFull("collector is shutting down")

    async def close(self, timeout_s: float) -> None:
        """Stop accepting and flush what is queued, for at most ``timeout_s``."""
        self._closing = True
        self._changed.notify_all()
        await self._changed.wait_for(lambda: not self._queue and self._queued_rows == 0, timeout_s)
        if self._queue:
            log.warning(
                "shutting down with %d batches unwritten; their agents will resend them", len(self._queue)
            )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _take(self) -> list[PendingBatch]:
        async with self._taking:
            await self._changed.wait_for(lambda: bool(self._queue))
            oldest = self._queue[0].received_monotonic
            remaining = self._flush_interval - (time.monotonic() - oldest)
            if remaining > 0 and not self._closing:
                await self._changed.wait_for(
                    lambda: self._queued_rows >= self._flush_max_rows or self._closing, remaining
                )
            # Only a taker empties the queue, and takers take turns: it still holds the oldest.
            taken: list[PendingBatch] = []
            rows = 0
            while self._queue and (not taken or rows + self._queue[0].row_count <= self._flush_max_rows):
                item = self._queue.popleft()
                taken.append(item)
                rows += item.weight
            return taken

    def _give_back(self, batches: list[PendingBatch]) -> None:
        self._queue.extendleft(reversed(batches))
        self._changed.notify_all()

    def _release(self, batches: list[PendingBatch]) -> None:
        self._queued_rows -= sum(b.weight for b in batches)
        metrics.QUEUE_ROWS.set(self._queued_rows)
        self._changed.notify_all()

    async def _flush_loop(self) -> None:
        retry = Backoff(base_s=0.5, cap_s=3.0)
        while True:
            batches = await self._take()
            live = [b for b in batches if not b.future.done()]
            try:
                results = await self._write_isolating(live)
            except (psycopg.OperationalError, PoolTimeout, OSError):
                # Not committed, or not known to be: no ack. The database's state
                # is logged once per outage by collector/database.py.
                self._give_back(batches)
                await asyncio.sleep(retry.next_delay())
                continue
            retry.reset()
            self._release(batches)
            for pending, result in zip(live, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)

    async def _write_isolating(self, batches: list[PendingBatch]) -> list[AckResult]:
        """Write all in one transaction; if the database refuses the content, write one by one."""
        try:
            return await self._write(batches)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            if len(batches) == 1:
                log.warning("database refused batch %s: %s", batches[0].key[:3], exc)
                metrics.BATCHES.labels("rejected", "database_refused").inc()
                return [AckResult(Outcome.REJECTED, INVALID_ARGUMENT, f"database refused the batch: {exc}")]
        results: list[AckResult] = []
        for pending in batches:
            results.extend(await self._write_isolating([pending]))
        return results

    async def _write(self, batches: list[PendingBatch]) -> list[AckResult]:
        started = time.perf_counter()
        first_of_key: dict[tuple[int, int, int, datetime], int] = {}
        for index, pending in enumerate(batches):
            first_of_key.setdefault(pending.key, index)
        unique = [batches[i] for i in sorted(first_of_key.values())]
        docker_vps_ids = [b.vps_id for b in unique if b.batch.containers is not None]
        # One transaction, committed as the block ends, all within the write limit.
        async with (
            self._containers.claim(docker_vps_ids) as containers,
            self._db.connection("ingest write", self._db.write_limit_s) as conn,
        ):
            cur = conn.cursor()
            # Binary parameters (%b): no text quoting of five arrays per flush.
            await cur.execute(
                "INSERT INTO ingested_batches (vps_id, epoch, sequence, batch_time, row_count)"
                " SELECT * FROM unnest(%b::int8[], %b::int8[], %b::int8[], %b::timestamptz[], %b::int4[])"
                " ON CONFLICT DO NOTHING RETURNING vps_id, epoch, sequence, batch_time",
                (
                    [b.vps_id for b in unique],
                    [b.epoch for b in unique],
                    [b.batch.sequence for b in unique],
                    [b.batch.dedup_time for b in unique],
                    [b.row_count for b in unique],
                ),
            )
            fresh_keys = set(await cur.fetchall())
            fresh = [b for b in unique if b.key in fresh_keys]
            row_counts = await self._copy_rows(cur, fresh)
            containers.written = await write_containers(
                cur,
                [
                    (b.vps_id, b.batch.docker_time, b.batch.containers)
                    for b in fresh
                    if b.batch.containers is not None and b.batch.docker_time is not None
                ],
                containers.cached,
            )
            await self._record_late_data(cur, fresh)
            await self._notify_live(cur, fresh)
        elapsed = time.perf_counter() - started
        metrics.FLUSH_SECONDS.observe(elapsed)
        now = time.time()
        for table_name, count in row_counts.items():
            metrics.ROWS.labels(table_name).inc(count)
        for b in fresh:
            metrics.INGEST_LAG.observe(max(0.0, now - b.batch.batch_time.timestamp()))
        results = []
        for index, pending in enumerate(batches):
            stored = first_of_key[pending.key] == index and pending.key in fresh_keys
            results.append(_STORED if stored else _DUPLICATE)
        # Counted once per flush, not per batch: a labelled child costs a lookup and a lock.
        if stored_count := sum(r is _STORED for r in results):
            metrics.BATCHES.labels("stored", "").inc(stored_count)
        if len(results) > stored_count:
            metrics.BATCHES.labels("duplicate", "").inc(len(results) - stored_count)
        return results

    async def _copy_rows(self, cur: psycopg.AsyncCursor[Any], fresh: list[PendingBatch]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for table in tables.TABLES.values():
            parts = [b.batch.rows[table.name] for b in fresh if table.name in b.batch.rows]
            if not parts:
                continue
            async with cur.copy(table.copy_sql) as copy:
                copy.set_types(table.pg_types)
                for rows in parts:
                    for row in rows:
                        await copy.write_row(row)
            counts[table.name] = sum(len(p) for p in parts)
        return counts

    async def _record_late_data(self, cur: psycopg.AsyncCursor[Any], fresh: list[PendingBatch]) -> None:
        """Rows the next rollup refresh would not re-read must be recorded as late data.

        The refresh re-reads ``late_window`` behind its watermark; half of it is
        the margin for the time between this check and the commit.
        """
        cutoff = datetime.now(UTC) - self._late_window / 2
        touched: dict[str, list[TimeRange]] = {}
        for b in fresh:
            if b.batch.batch_time >= cutoff:
                continue
            for table_name, rows in b.batch.rows.items():
                first = min(r[0] for r in rows)
                if first < cutoff:
                    touched.setdefault(table_name, []).append((first, max(r[0] for r in rows)))
        # A replayed spool is many consecutive batches: one range each run of them.
        late = [
            (table_name, first, last)
            for table_name, ranges in touched.items()
            for first, last in merge_ranges(ranges, LATE_RANGE_GAP)
        ]
        if late:
            sources, firsts, lasts = zip(*late, strict=True)
            await cur.execute(
                "SELECT tw_record_late_data(source, earliest, latest)"
                " FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS x (source, earliest, latest)",
                (list(sources), list(firsts), list(lasts)),
            )

    async def _notify_live(self, cur: psycopg.AsyncCursor[Any], fresh: list[PendingBatch]) -> None:
        latest: dict[int, dict[str, Any]] = {}
        for b in fresh:
            live = b.batch.live
            if live is not None and (
                b.vps_id not in latest or live["time_ms"] >= latest[b.vps_id]["time_ms"]
            ):
                latest[b.vps_id] = live
        if latest:
            await self._live.notify(cur, latest.values())
