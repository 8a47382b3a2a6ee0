"""The ingest queue's unlocked path: a submit that needs no wait and wakes no flusher skips
the lock, and gives the same queue, wake-ups and refusals as the locked one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

import pytest

from collector.ingest import IngestWriter, QueueFull
from collector.rows import TimeRules, convert_batch
from tests.factories import now_ms, performance_batch


def ten_rows(sequence: int) -> Any:
    """A converted performance batch of one snapshot: 10 rows."""
    rules = TimeRules(now_ms=now_ms(), max_future_ms=300_000, max_age_ms=86_400_000)
    return convert_batch("performance_batch", performance_batch(sequence, [now_ms() - 1000]), 1, rules)


def writer() -> IngestWriter:
    """Never started: what is queued stays queued, and the test plays the flusher."""
    return IngestWriter(
        cast(Any, None),
        flush_max_rows=100,
        flush_interval_ms=50,
        queue_max_rows=1000,
        late_window=timedelta(0),
    )


async def test_flushers_are_woken_by_the_first_batch_and_by_a_full_flush_only() -> None:
    w = writer()
    woken: list[int] = []

    async def flusher(enough: int) -> None:
        async with w._changed:
            await w._changed.wait_for(lambda: w.queued_rows >= enough)
            woken.append(w.queued_rows)

    first = asyncio.create_task(flusher(1))
    full = asyncio.create_task(flusher(100))
    await asyncio.sleep(0)
    await w.submit(1, 7, ten_rows(1), wait_s=1.0)
    async with asyncio.timeout(5):
        await first
    for sequence in range(2, 10):  # 90 rows: room, and no flush is full yet
        await w.submit(1, 7, ten_rows(sequence), wait_s=1.0)
    await asyncio.sleep(0.05)
    assert not full.done() and woken == [10]
    await w.submit(1, 7, ten_rows(10), wait_s=1.0)  # 100 rows: the flush is full
    async with asyncio.timeout(5):
        await full
    assert woken == [10, 100]
    assert w.queued_batches == 10 and w.queued_rows == 100
    queued = list(w._queue)
    assert [p.key[:3] for p in queued] == [(1, 7, s) for s in range(1, 11)]
    assert all(p.row_count == 10 and p.key[3] == p.batch.dedup_time for p in queued)


async def test_a_closing_writer_refuses_even_with_room() -> None:
    w = writer()
    await w.submit(1, 7, ten_rows(1), wait_s=1.0)
    async with w._changed:
        w._closing = True  # as close() sets it; close() would also wait for the queue to drain
    with pytest.raises(QueueFull, match=r"^collector is shutting down$"):
        await w.submit(1, 7, ten_rows(2), wait_s=1.0)
    with pytest.raises(QueueFull, match=r"^collector is shutting down$"):
        await w.wait_for_room(1.0)
    assert w.queued_batches == 1
