"""The agent's segment log: append, trim by ack, replay, torn tails, corruption, the cap, fsync."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime.spool_log import SUFFIX, SegmentLog, SpoolFull, segment_bytes_for

EPOCH = 7


@pytest.fixture
def opened() -> Iterator[list[SegmentLog]]:
    logs: list[SegmentLog] = []
    yield logs
    for spool in logs:
        spool.close()


def _open(
    directory: Path,
    opened: list[SegmentLog],
    *,
    max_bytes: int = 1 << 20,
    segment_bytes: int = 4096,
    **kw: float,
) -> SegmentLog:
    spool = SegmentLog(
        directory, max_bytes=max_bytes, segment_bytes=segment_bytes, commit_interval_s=kw.get("commit", 0)
    )
    spool.start(EPOCH)
    opened.append(spool)
    return spool


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def test_append_and_replay_after_a_crash(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened)
    for seq in (1, 2, 3):
        spool.append_batch(seq, f"batch-{seq}".encode())
    assert spool.read(2) == b"batch-2"
    # No close(): the process dies here. A new log sees everything written.
    again = _open(tmp_path, opened)
    assert again.recovered.batches == [(1, EPOCH), (2, EPOCH), (3, EPOCH)]
    assert again.read(3) == b"batch-3"
    assert again.recovered.skipped_records == 0


def test_acks_survive_a_restart_and_trim_whole_segments(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened, segment_bytes=200)
    payload = b"p" * 100
    for seq in range(1, 7):
        spool.append_batch(seq, payload)  # two batches per 200-byte segment
    first, second, third = _segments(tmp_path)
    # Out of order: 2 then 1 frees the first segment; 4 alone frees nothing.
    assert spool.ack(2) and spool.ack(4)
    assert first.exists() and second.exists()
    assert spool.ack(1)
    assert not first.exists() and second.exists() and third.exists()
    assert not spool.ack(1)  # already gone
    assert spool.read(1) is None
    again = _open(tmp_path, opened, segment_bytes=200)
    assert [seq for seq, _ in again.recovered.batches] == [3, 5, 6]


def test_the_active_segment_is_kept_until_it_is_replaced(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened)
    spool.append_batch(1, b"x")
    spool.ack(1)
    assert len(_segments(tmp_path)) == 1
    # Reopened: the fully acknowledged segment is deleted; only the new active one is left.
    _open(tmp_path, opened)
    assert len(_segments(tmp_path)) == 1


def test_torn_tail_is_skipped_with_a_log_line(
    tmp_path: Path, opened: list[SegmentLog], caplog: pytest.LogCaptureFixture
) -> None:
    spool = _open(tmp_path, opened)
    spool.append_batch(1, b"whole")
    spool.append_batch(2, b"torn by the crash")
    last = _segments(tmp_path)[-1]
    last.write_bytes(last.read_bytes()[:-5])  # a write cut short by SIGKILL
    with caplog.at_level(logging.WARNING):
        again = _open(tmp_path, opened)
    assert again.recovered.batches == [(1, EPOCH)]
    assert again.recovered.skipped_records == 1
    assert "torn record" in caplog.text
    # Appends go to a new segment, never after the torn bytes.
    again.append_batch(3, b"after")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        third = _open(tmp_path, opened)
    assert [seq for seq, _ in third.recovered.batches] == [1, 3]
    assert "torn record" in caplog.text  # still told apart from bit rot, now in an older segment


def test_corruption_in_an_older_segment_is_detected(
    tmp_path: Path, opened: list[SegmentLog], caplog: pytest.LogCaptureFixture
) -> None:
    spool = _open(tmp_path, opened, segment_bytes=100)
    for seq in range(1, 5):
        spool.append_batch(seq, bytes([seq]) * 100)  # one batch per segment
    first = _segments(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[-3] ^= 0xFF  # bit rot inside batch 1
    first.write_bytes(bytes(data))
    assert spool.read(1) is None  # checked on read too
    assert spool.read(2) == bytes([2]) * 100
    with caplog.at_level(logging.WARNING):
        again = _open(tmp_path, opened, segment_bytes=100)
    assert [seq for seq, _ in again.recovered.batches] == [2, 3, 4]
    assert "corrupt record" in caplog.text


def test_a_segment_without_a_header_is_removed(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened)
    spool.append_batch(1, b"kept")
    (tmp_path / f"{99:016d}{SUFFIX}").write_bytes(b"TW")  # crash while creating a segment
    again = _open(tmp_path, opened)
    assert again.recovered.batches == [(1, EPOCH)]
    assert not (tmp_path / f"{99:016d}{SUFFIX}").exists()


def test_cap_drops_the_oldest_segment_and_reports_its_batches(
    tmp_path: Path, opened: list[SegmentLog]
) -> None:
    lost: list[int] = []
    spool = SegmentLog(tmp_path, max_bytes=1000, segment_bytes=250, commit_interval_s=0, on_lost=lost.extend)
    opened.append(spool)
    spool.start(EPOCH)
    for seq in range(1, 13):
        spool.append_batch(seq, b"z" * 100)
        assert spool.total_bytes <= 1000
    assert sum(p.stat().st_size for p in _segments(tmp_path)) == spool.total_bytes
    assert lost == sorted(lost) and lost[0] == 1
    kept = [seq for seq in range(1, 13) if seq in spool]
    assert kept == list(range(len(lost) + 1, 13))  # exactly the oldest went
    with pytest.raises(SpoolFull):
        spool.append_batch(99, b"y" * 600)


def test_held_snapshots_come_back_until_a_batch_takes_them(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened, segment_bytes=120)
    spool.append_snapshot(b"s1")
    spool.append_snapshot(b"s2")
    spool.append_batch(1, b"docker", holds_snapshots=False)
    assert _open(tmp_path, opened, segment_bytes=120).recovered.held_snapshots == [b"s1", b"s2"]
    spool.append_batch(2, b"perf [s1 s2]", holds_snapshots=True)
    spool.append_snapshot(b"s3" * 60)  # rolls to a new segment
    spool.ack(1)
    spool.ack(2)
    assert _open(tmp_path, opened, segment_bytes=120).recovered.held_snapshots == [b"s3" * 60]


def test_a_segment_holding_waiting_snapshots_is_not_trimmed(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened, segment_bytes=100)
    spool.append_batch(1, b"b" * 60)
    spool.append_snapshot(b"waiting")  # same segment as batch 1
    spool.append_batch(2, b"c" * 80, holds_snapshots=False)  # next segment
    spool.ack(1)
    again = _open(tmp_path, opened, segment_bytes=100)
    assert again.recovered.held_snapshots == [b"waiting"]


def test_retired_epoch_segments_are_deleted_even_after_a_crash(
    tmp_path: Path, opened: list[SegmentLog]
) -> None:
    old = _open(tmp_path, opened)
    old.append_batch(5, b"old numbering")
    renumbering = SegmentLog(tmp_path, max_bytes=1 << 20, commit_interval_s=0)
    opened.append(renumbering)
    assert renumbering.recovered.batches == [(5, EPOCH)]
    renumbering.start(8)
    renumbering.append_batch(6, b"old numbering")
    renumbering.retire_epoch(EPOCH)
    assert 5 not in renumbering
    again = _open(tmp_path, opened)
    assert again.recovered.batches == [(6, 8)]


def test_group_commit_fsyncs_in_the_background(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened, commit=0.05)
    before = spool.fsync_count
    for seq in range(1, 21):
        spool.append_batch(seq, b"q" * 50)
    assert spool.wait_synced(10.0)
    assert spool.unsynced_records == 0
    # Twenty appends in a burst share a handful of fsyncs, not twenty.
    assert 1 <= spool.fsync_count - before < 20


def test_fsync_each_append_when_the_interval_is_zero(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened, commit=0)
    before = spool.fsync_count
    spool.append_batch(1, b"now")
    assert spool.unsynced_records == 0
    assert spool.fsync_count == before + 1


def test_a_failed_write_leaves_no_garbage(tmp_path: Path, opened: list[SegmentLog]) -> None:
    spool = _open(tmp_path, opened)
    spool.append_batch(1, b"good")
    real_write = os.write
    calls = 0

    def short_then_fail(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[:7])
        raise OSError(28, "No space left on device")

    os.write = short_then_fail  # type: ignore[assignment]
    try:
        with pytest.raises(OSError):
            spool.append_batch(2, b"half written")
    finally:
        os.write = real_write
    spool.append_batch(3, b"later")
    again = _open(tmp_path, opened)
    assert again.recovered.batches == [(1, EPOCH), (3, EPOCH)]
    assert again.recovered.skipped_records == 0


def test_segment_size_follows_the_cap() -> None:
    assert segment_bytes_for(1 << 20) == 64 * 1024
    assert segment_bytes_for(64 << 20) == 4 << 20
    assert segment_bytes_for(1 << 30) == 4 << 20
