"""Delivery state: backoff, sequence epochs and the pending store (the log: test_agent_spool_log.py)."""

from __future__ import annotations

import json
import os
import random
import zlib
from pathlib import Path

import pytest

from agent.runtime.pending import PendingStore, batch_sequence
from agent.runtime.sequence import STATE_FILE, SequenceAllocator
from agent.runtime.spool_log import SegmentLog
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


# -- pending store -----------------------------------------------------------------------


def _store(tmp_path: Path, *, memory: int = 2, max_bytes: int = 1 << 20, epoch: int = 42) -> PendingStore:
    spool = SegmentLog(tmp_path, max_bytes=max_bytes, segment_bytes=256, commit_interval_s=0)
    return PendingStore(spool, SequenceAllocator(tmp_path, clock_ms=lambda: epoch), memory_max_batches=memory)


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
    assert store.spooled_bytes > 0  # every batch is on disk at once
    assert store.oldest_newest() == (1, 4)
    assert _drain(store) == [1, 2, 3, 4]  # 1 and 2 are read back from disk
    found = store.next_after(1)
    assert found is not None and found[1].WhichOneof("payload") == "docker_batch"


def test_pending_ack_in_any_order_and_rejected_alike(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=1)
    for _ in range(3):
        store.submit(_snapshot_batch())
    assert store.ack(3) and store.ack(1)  # out of order (1 could be a REJECTED outcome)
    assert not store.ack(99)
    assert _drain(store) == [2]
    assert store.ack(2)
    assert store.pending_count == 0 and store.spooled_bytes == 0
    assert store.oldest_newest() == (0, 0)


def test_pending_every_batch_survives_a_crash(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=10)
    for _ in range(4):
        store.submit(_snapshot_batch())
    store.ack(2)
    # Crash: nothing closed, memory gone. The log brings back every unacked batch.
    again = _store(tmp_path, memory=10)
    assert again.epoch == 42
    assert _drain(again) == [1, 3, 4]
    assert again.submit(_snapshot_batch()) > 4


def test_pending_snapshots_waiting_for_their_batch_survive_a_crash(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first = agent_pb2.PerformanceSnapshot(timestamp_unix_ms=1)
    store.hold_snapshot(first)
    store.submit(
        agent_pb2.MessageToServer(performance_batch=agent_pb2.PerformanceSnapshotBatch(snapshots=[first]))
    )
    store.ack(1)
    for ms in (2, 3):
        store.hold_snapshot(agent_pb2.PerformanceSnapshot(timestamp_unix_ms=ms))
    again = _store(tmp_path)  # crash before the batch of 2 and 3 was made
    found = again.next_after(0)
    assert found is not None
    sequence, message = found
    assert sequence > 1
    assert [s.timestamp_unix_ms for s in message.performance_batch.snapshots] == [2, 3]
    assert _drain(again) == [sequence]
    # Made into a batch, they are not recovered a second time.
    assert _drain(_store(tmp_path)) == [sequence]


def test_pending_drops_oldest_when_spool_full_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path, memory=1, max_bytes=2048)
    for _ in range(40):
        store.submit(_snapshot_batch(pad=10))
    assert store._log.total_bytes <= 2048
    assert store.dropped_total > 0
    assert store.dropped_total + store.pending_count == 40
    assert _drain(store) == list(range(store.dropped_total + 1, 41))  # the oldest went
    assert f"dropped_batches_total={store.dropped_total}" in caplog.text


def test_pending_survives_clean_restart_and_continues_sequence(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=10)
    for _ in range(3):
        store.submit(_snapshot_batch())
    store.ack(1)
    store.close()
    store._sequences.close()
    again = _store(tmp_path, memory=10)
    assert again.epoch == 42
    assert _drain(again) == [2, 3]
    assert again.submit(_snapshot_batch()) == 4


def test_spool_without_state_is_renumbered_into_a_new_epoch(tmp_path: Path) -> None:
    store = _store(tmp_path, memory=1)
    for _ in range(3):
        store.submit(_snapshot_batch())
    store.ack(1)
    os.remove(tmp_path / STATE_FILE)
    again = _store(tmp_path, memory=1, epoch=77)
    assert again.epoch == 77
    renumbered = _drain(again)
    assert len(renumbered) == 2 and renumbered == sorted(renumbered)
    assert min(renumbered) > 3  # above every old number: no collision with old records
    assert again.submit(_snapshot_batch()) > max(renumbered)
    # After another crash the old numbering does not come back.
    assert _drain(_store(tmp_path, memory=1, epoch=77)) == [*renumbered, max(renumbered) + 1]


def test_batches_spooled_by_the_old_one_file_format_are_taken_over(tmp_path: Path) -> None:
    # What an agent before the segment log left at a clean stop: state + <sequence>.batch files.
    SequenceAllocator(tmp_path, clock_ms=lambda: 42).close()
    for sequence in (1, 2):
        message = _snapshot_batch()
        message.performance_batch.sequence = sequence
        payload = message.SerializeToString()
        (tmp_path / f"{sequence:020d}.batch").write_bytes(
            b"TWB1" + zlib.crc32(payload).to_bytes(4, "big") + payload
        )
    (tmp_path / f"{3:020d}.batch").write_bytes(b"TWB1\x00\x00\x00\x00garbage")
    store = _store(tmp_path)
    assert _drain(store) == [1, 2]
    assert not list(tmp_path.glob("*.batch"))
    assert store.submit(_snapshot_batch()) == 3
    assert _drain(_store(tmp_path)) == [1, 2, 3]  # now in the log, across a crash


def test_a_full_disk_at_start_keeps_the_agent_sampling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_roll = SegmentLog._roll
    refusals = iter(range(2))

    def roll(self: SegmentLog, epoch: int) -> None:
        if next(refusals, None) is not None:
            raise OSError(28, "No space left on device")
        real_roll(self, epoch)

    monkeypatch.setattr(SegmentLog, "_roll", roll)
    store = _store(tmp_path, memory=10)  # refused once at start
    assert store.submit(_snapshot_batch()) == 1  # refused again: kept in memory only
    assert store.submit(_snapshot_batch()) == 2  # the disk takes it
    assert _drain(store) == [1, 2]
    assert _drain(_store(tmp_path, memory=10)) == [2]  # only 2 reached the disk
