"""The ingest queue's fast path: a submit that needs no wait and wakes no flusher skips the
checks, and gives the same queue, wake-ups and refusals as the full one; waiters that go
away (cancelled, even twice) leave the queue working."""

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
    w._closing = True  # as close() sets it; close() would also wait for the queue to drain
    with pytest.raises(QueueFull, match=r"^collector is shutting down$"):
        await w.submit(1, 7, ten_rows(2), wait_s=1.0)
    with pytest.raises(QueueFull, match=r"^collector is shutting down$"):
        await w.wait_for_room(1.0)
    assert w.queued_batches == 1


async def test_waiters_cancelled_twice_leave_the_queue_working() -> None:
    """Streams waiting for room when their agents go away: gRPC cancels the handler and its
    clean-up cancels again. With asyncio.Condition (Python 3.11) such waiters wedged the
    queue's lock: they never finished, and a flusher could never take again."""
    w = writer()
    for sequence in range(1, 101):  # 1,000 rows: full
        await w.submit(1, 7, ten_rows(sequence), wait_s=1.0)
    waiting: list[asyncio.Task[Any]] = [
        asyncio.create_task(w.submit(2, 7, ten_rows(s), wait_s=60.0)) for s in range(1, 201)
    ]
    waiting += [asyncio.create_task(w.wait_for_room(60.0)) for _ in range(200)]
    await asyncio.sleep(0.01)
    for i, task in enumerate(waiting):
        task.cancel()
        if i % 2:
            await asyncio.sleep(0)
        task.cancel()
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), {type(o) for o in outcomes}
    assert w.queued_rows == 1000  # nothing of theirs went in
    # A flusher still takes and releases; a waiter then gets the room it freed.
    async with asyncio.timeout(10):
        room = asyncio.create_task(w.submit(3, 7, ten_rows(1), wait_s=10.0))
        taken = await w._take()
        w._release(taken)
        await room
    assert [p.key[:3] for p in taken] == [(1, 7, s) for s in range(1, 11)]
    assert w.queued_rows == 910


async def test_a_full_queue_refuses_after_the_wait_and_a_release_wakes_a_waiter() -> None:
    w = writer()
    for sequence in range(1, 101):
        await w.submit(1, 7, ten_rows(sequence), wait_s=1.0)
    with pytest.raises(QueueFull, match=r"^ingest queue full \(1000 rows waiting for the database\)$"):
        await w.submit(2, 7, ten_rows(1), wait_s=0.05)
    with pytest.raises(QueueFull, match=r"^ingest queue full"):
        await w.wait_for_room(0)
    waiter = asyncio.create_task(w.wait_for_room(10.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    async with asyncio.timeout(10):
        w._release(await w._take())
        await waiter
