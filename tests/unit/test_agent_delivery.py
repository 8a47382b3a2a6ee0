"""Delivery state: backoff, sequence epochs, the disk spool and the pending store."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from agent.runtime.pending import PendingStore, batch_sequence
from agent.runtime.sequence import STATE_FILE, SequenceAllocator
from agent.runtime.spool import DiskSpool
from common.backoff import Backoff
from proto import agent_pb2


def _snapshot_batch(n: int = 1, *, pad: int = 0) -> agent_pb2.MessageToServer:
    snaps = [
        agent_pb2.PerformanceSnapshot(timestamp_unix_ms=1000 + i, cpu_percent=float(i)) for i in range(n)
    ]
    if pad:
        snaps[0].cpu_per_core_percent.extend([0.5] * pad)
    return agent_pb2.MessageToServer(performance_batch=agent_pb2.PerformanceSnapshotBatch(snapshots=snaps))


# -- backoff -----------------------------------------------------------------------------


def test_backoff_ceiling_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0, uniform=lambda lo, hi: hi)
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_full_jitter_stays_in_bounds_and_spreads() -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0, uniform=random.Random(7).uniform)
    for attempt in range(200):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling
    samples = [Backoff(uniform=random.Random(i).uniform) for i in range(50)]
    for b in samples:
        b.attempts = 10
    values = {round(b.next_delay(), 3) for b in samples}
    assert len(values) > 40  # jittered, not lockstep
    assert max(values) <= 30.0


def test_backoff_survives_very_long_outages() -> None:
    backoff = Backoff(uniform=lambda lo, hi: hi)
    backoff.attempts = 10_000
    assert backoff.next_delay() == 30.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=0)
    with pytest.raises(ValueError):
        Backoff(base_s=5, cap_s=1)


# -- sequence epochs ---------------------------------------------------------------------


def test_sequence_continues_after_a_clean_restart(tmp_path: Path) -> None:
    first = SequenceAllocator(tmp_path, clock_ms=lambda: 111)
    assert first.fresh_epoch
    assert [first.allocate() for _ in range(3)] == [1, 2, 3]
    first.close()
    second = SequenceAllocator(tmp_path, clock_ms=lambda: 222)
    assert not second.fresh_epoch
    assert second.epoch == 111
    assert second.allocate() == 4


def test_sequence_never_reused_after_a_crash(tmp_path: Path) -> None:
    first = SequenceAllocator(tmp_path, lease=10, clock_ms=lambda: 111)
    used = [first.allocate() for _ in range(15)]
    # No close(): a crash. The lease on disk is ahead of everything handed out.
    second = SequenceAllocator(tmp_path, lease=10, clock_ms=lambda: 222)
    assert second.epoch == 111
    assert second.allocate() > max(used)


def test_sequence_state_is_written_before_use(tmp_path: Path) -> None:
    alloc = SequenceAllocator(tmp_path, lease=4, clock_ms=lambda: 5)
    for _ in range(9):
        seq = alloc.allocate()
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert state["epoch"] == 5
        assert state["next_sequence"] > seq


@pytest.mark.parametrize("content", ["", "not json", '{"epoch": 0, "next_sequence": 3}', "[]"])
def test_lost_or_corrupt_state_starts_a_new_epoch(tmp_path: Path, content: str) -> None:
    (tmp_path / STATE_FILE).write_text(content)
    alloc = SequenceAllocator(tmp_path, clock_ms=lambda: 1_700_000_000_000)
    assert alloc.fresh_epoch
    assert alloc.epoch == 1_700_000_000_000
    assert alloc.allocate() == 1


# -- disk spool --------------------------------------------------------------------------


def test_spool_survives_reopen(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=1 << 20)
    for seq in (3, 1, 2):
        assert spool.write(seq, f"payload-{seq}".encode()) == []
    reopened = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert reopened.sequences() == [1, 2, 3]
    assert reopened.read(2) == b"payload-2"
    assert reopened.total_bytes == spool.total_bytes
    assert reopened.first_after(1) == 2
    assert reopened.first_after(3) is None


def test_spool_bound_evicts_oldest(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=100)
    payload = b"x" * 22  # 30 bytes with the 8-byte header
    evicted: list[int] = []
    for seq in range(1, 8):
        evicted += spool.write(seq, payload)
    assert spool.total_bytes <= 100
    assert spool.sequences() == [5, 6, 7]
    assert evicted == [1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{s:020d}.batch" for s in (5, 6, 7)]


def test_spool_refuses_a_payload_larger_than_the_bound(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=50)
    spool.write(1, b"small")
    assert spool.write(2, b"y" * 100) == [2]
    assert spool.sequences() == [1]


def test_spool_ignores_partial_writes_and_detects_corruption(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=1 << 20)
    spool.write(1, b"good")
    spool.write(2, b"will rot")
    # A crash mid-write leaves only a temp file; bit rot changes a complete one.
    (tmp_path / f"{3:020d}.batch.tmp").write_bytes(b"TWB1\x00\x00")
    rotten = tmp_path / f"{2:020d}.batch"
    rotten.write_bytes(rotten.read_bytes()[:-1] + b"!")
    (tmp_path / "unrelated.txt").write_text("ignored")
    reopened = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert reopened.sequences() == [1, 2]
    assert not (tmp_path / f"{3:020d}.batch.tmp").exists()
    assert reopened.read(1) == b"good"
    assert reopened.read(2) is None
    assert reopened.sequences() == [1]


# -- pending store -----------------------------------------------------------------------


def _store(tmp_path: Path, *, memory: int = 2, max_bytes: int = 1 << 20) -> PendingStore:
    spool = DiskSpool(tmp_path, max_bytes=max_bytes)
    return PendingStore(spool, SequenceAllocator(tmp_path, clock_ms=lambda: 42), memory_max_batches=memory)


def _drain(store: PendingStore) -> list[int]:
    seen, cursor = [], 0
    while (found := store.next_after(cursor)) is not None:
        cursor, message = found
        assert batch_sequence(message) == cursor
        seen.append(cursor)
    return seen


def test_pending_assigns_one_shared_sequence_and_orders_oldest_first(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=2)
    docker = agent_pb2.MessageToServer(docker_batch=agent_pb2.DockerInfoBatch(docker_available=True))
    generic = agent_pb2.MessageToServer(generic_metrics_batch=agent_pb2.GenericMetricsBatch())
    assert [store.submit(m) for m in (_snapshot_batch(), docker, generic, _snapshot_batch())] == [1, 2, 3, 4]
    assert store.pending_count == 4
    assert store.spooled_bytes > 0  # two spilled past the memory bound
    assert store.oldest_newest() == (1, 4)
    assert _drain(store) == [1, 2, 3, 4]
    found = store.next_after(1)
    assert found is not None and found[1].WhichOneof("payload") == "docker_batch"


def test_pending_ack_removes_from_memory_and_disk(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=1)
    for _ in range(3):
        store.submit(_snapshot_batch())
    assert store.ack(1) and store.ack(3)
    assert not store.ack(99)
    assert _drain(store) == [2]
    assert store.ack(2)
    assert store.pending_count == 0 and store.spooled_bytes == 0
    assert store.oldest_newest() == (0, 0)


def test_pending_drops_oldest_when_spool_full_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sample = _snapshot_batch(pad=40)
    sample.performance_batch.sequence = 1
    one = len(sample.SerializeToString()) + 8  # 8-byte spool header
    store = _store(tmp_path, memory=1, max_bytes=3 * one + 2)
    for _ in range(6):
        store.submit(_snapshot_batch(pad=40))
    # Memory holds 6; the disk holds at most 3 of 1..5, so the two oldest went.
    assert store.dropped_total == 2
    assert _drain(store) == [3, 4, 5, 6]
    assert "dropped_batches_total=2" in caplog.text


def test_pending_survives_restart_and_continues_sequence(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=10)
    for _ in range(3):
        store.submit(_snapshot_batch())
    store.ack(1)
    store.persist_all()
    store._sequences.close()
    again = _store(tmp_path, memory=10)
    assert again.epoch == 42
    assert _drain(again) == [2, 3]
    assert again.submit(_snapshot_batch()) == 4


def test_pending_survives_crash_of_spilled_batches(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=1)
    for _ in range(4):
        store.submit(_snapshot_batch())
    # Crash: nothing closed. What was spilled is back; the newest (memory) is lost.
    again = _store(tmp_path, memory=1)
    assert _drain(again) == [1, 2, 3]
    assert again.submit(_snapshot_batch()) > 4


def test_spool_without_state_is_renumbered_into_a_new_epoch(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=1)
    for _ in range(3):
        store.submit(_snapshot_batch())
    os.remove(tmp_path / STATE_FILE)
    spool = DiskSpool(tmp_path, max_bytes=1 << 20)
    again = PendingStore(spool, SequenceAllocator(tmp_path, clock_ms=lambda: 77), memory_max_batches=1)
    assert again.epoch == 77
    renumbered = _drain(again)
    assert len(renumbered) == 2 and renumbered == sorted(renumbered)
    assert min(renumbered) > 2  # above every old number: no collision with old files
    assert again.submit(_snapshot_batch()) > max(renumbered)
