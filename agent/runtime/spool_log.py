"""The agent's write-ahead spool: append-only segment files of framed, checksummed records.

A segment is ``<id>.wal``: a header (magic, the sequence epoch of its batches)
and then records, each ``magic | kind | body length | CRC32(kind + body) | body``.
Records are written with one ``write`` each, so a killed process leaves at most
one torn record at the very end; a record whose frame or checksum does not hold
is skipped with a log line when the segments are read back.

Durability: every record is in the kernel before :meth:`SegmentLog.append_batch`
returns, so killing the process loses nothing written. A machine crash can lose
what was not yet fsync'd: with ``commit_interval_s > 0`` a background thread
fsyncs the active segment at most that long after the first unsynced append
(group commit); with ``0`` every append is fsync'd before it returns.

Acks are records too (unsynced: a lost ack only means a resend that the
collector answers DUPLICATE). A segment is deleted once it is not the active one,
every batch in it is acked and no snapshot in it still waits for its batch.
The total size is capped: the oldest segment is dropped to make room, and the
unacknowledged batches in it are reported to the caller as lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agent.runtime.durable import fsync_directory
from agent.runtime.spool_frames import (
    FRAME_SIZE,
    MAX_RECORD_BYTES,
    SEQUENCE,
    RecordKind,
    frame,
    is_cut_short,
    parse_record,
    write_all,
)

__all__ = ["RecordKind", "Recovered", "SegmentLog", "SpoolFull", "segment_bytes_for"]

log = logging.getLogger(__name__)

SUFFIX = ".wal"
_SEGMENT_HEADER = struct.Struct(">4sQ")  # magic, epoch
_SEGMENT_MAGIC = b"TWS1"


class SpoolFull(Exception):
    """A record that could never fit within the cap."""


def segment_bytes_for(max_bytes: int) -> int:
    """Segment size for a cap: 1/16 of it, within 64 KiB..4 MiB, so dropping one frees little."""
    return max(64 * 1024, min(4 * 1024 * 1024, max_bytes // 16))


@dataclass
class _Segment:
    id: int
    path: Path
    epoch: int
    size: int
    live: set[int] = field(default_factory=set)
    held_snapshots: int = 0


@dataclass(frozen=True)
class _Location:
    segment: int
    offset: int  # of the frame
    length: int  # of the body


@dataclass
class Recovered:
    """What the segments on disk held when the log was opened."""

    batches: list[tuple[int, int]] = field(default_factory=list)  # (sequence, epoch), oldest first
    held_snapshots: list[bytes] = field(default_factory=list)
    skipped_records: int = 0


class SegmentLog:
    """Segments in ``directory``; at most ``max_bytes`` on disk. Not thread-safe: one caller thread."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        commit_interval_s: float = 0.2,
        segment_bytes: int | None = None,
        on_lost: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or segment_bytes_for(max_bytes)
        self.commit_interval_s = commit_interval_s
        # What the spool costs, logged at close (bench/agent_process.py reads it).
        self.fsync_count = 0
        self.fsync_seconds = 0.0
        self.bytes_appended = 0
        self.cpu_seconds = 0.0  # the caller's thread, inside metered()
        self.sync_cpu_seconds = 0.0  # the fsync thread
        # Told the sequences of unacknowledged batches dropped to stay within the cap.
        self.on_lost = on_lost
        self._segments: dict[int, _Segment] = {}
        self._index: dict[int, _Location] = {}
        self._active: _Segment | None = None
        self._epoch = 0  # given by start()
        self._fd = -1
        self._lock = threading.Lock()  # the active fd vs. the syncing thread
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._appended = 0
        self._synced = 0
        self._synced_changed = threading.Condition()
        self._syncer: threading.Thread | None = None
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.recovered = self._scan()

    # -- reading what is there -------------------------------------------------------------

    def _scan(self) -> Recovered:
        found = Recovered()
        acked: set[int] = set()
        retired: set[int] = set()
        held: list[tuple[int, bytes]] = []
        paths = sorted(p for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit())
        for path in paths:
            segment = self._open_existing(path)
            if segment is None:
                continue
            self._segments[segment.id] = segment
            data = path.read_bytes()
            offset = _SEGMENT_HEADER.size
            while offset < len(data):
                record = parse_record(data, offset)
                if record is None:
                    log.warning(
                        "spool segment %s: %s record at offset %d; skipping its last %d bytes",
                        path.name,
                        "torn" if is_cut_short(data, offset) else "corrupt",
                        offset,
                        len(data) - offset,
                    )
                    found.skipped_records += 1
                    break
                kind, body, end = record
                if kind in (RecordKind.BATCH, RecordKind.SNAPSHOT_BATCH):
                    (sequence,) = SEQUENCE.unpack_from(body)
                    self._index[sequence] = _Location(segment.id, offset, len(body))
                    segment.live.add(sequence)
                    if kind == RecordKind.SNAPSHOT_BATCH:
                        held.clear()
                elif kind == RecordKind.ACK:
                    acked.add(SEQUENCE.unpack_from(body)[0])
                elif kind == RecordKind.SNAPSHOT:
                    held.append((segment.id, body))
                elif kind == RecordKind.RETIRED_EPOCH:
                    retired.add(SEQUENCE.unpack_from(body)[0])
                offset = end
        for sequence in acked:
            self._forget(sequence)
        for segment in list(self._segments.values()):
            if segment.epoch in retired:
                log.info("removing spool segment %s: its batches were renumbered", segment.path.name)
                self._delete(segment)
        held = [(seg, body) for seg, body in held if seg in self._segments]
        for seg, _ in held:
            self._segments[seg].held_snapshots += 1
        found.held_snapshots = [body for _, body in held]
        epochs = {s.id: s.epoch for s in self._segments.values()}
        found.batches = sorted((seq, epochs[loc.segment]) for seq, loc in self._index.items())
        for segment in list(self._segments.values()):
            self._delete_if_done(segment)
        if self._segments:
            log.info(
                "spool %s: %d segments (%d bytes), %d unacknowledged batches, %d snapshots not yet batched",
                self.directory,
                len(self._segments),
                self.total_bytes,
                len(found.batches),
                len(found.held_snapshots),
            )
        return found

    def _open_existing(self, path: Path) -> _Segment | None:
        with path.open("rb") as fh:
            header = fh.read(_SEGMENT_HEADER.size)
            size = os.fstat(fh.fileno()).st_size
        if len(header) < _SEGMENT_HEADER.size or header[:4] != _SEGMENT_MAGIC:
            # Only a crash while creating a segment leaves it without a header: nothing in it.
            log.warning("removing spool segment %s: no valid header", path.name)
            path.unlink(missing_ok=True)
            return None
        _, epoch = _SEGMENT_HEADER.unpack(header)
        return _Segment(int(path.stem), path, epoch, size)

    # -- appending -------------------------------------------------------------------------

    def start(self, epoch: int) -> None:
        """Open a new active segment for ``epoch`` (older segments are never appended to).

        A disk that refuses (full, read-only) is logged, not raised: the agent
        keeps sampling, and each append tries again to open the segment.
        """
        self._epoch = epoch
        try:
            self._roll(epoch)
        except OSError as exc:
            log.error("cannot open a spool segment in %s: %s; will retry on every write", self.directory, exc)
        if self.commit_interval_s > 0 and self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="spool-sync", daemon=True)
            self._syncer.start()

    def append_batch(self, sequence: int, payload: bytes, *, holds_snapshots: bool = False) -> None:
        """Write a batch; ``holds_snapshots`` when it contains every snapshot written so far."""
        kind = RecordKind.SNAPSHOT_BATCH if holds_snapshots else RecordKind.BATCH
        location = self._append(kind, SEQUENCE.pack(sequence) + payload)
        assert self._active is not None
        self._index[sequence] = location
        self._active.live.add(sequence)
        if holds_snapshots:
            for segment in self._segments.values():
                segment.held_snapshots = 0
            self._delete_finished()

    def append_snapshot(self, payload: bytes) -> None:
        """Write a snapshot that is not in a batch yet."""
        self._append(RecordKind.SNAPSHOT, payload)
        assert self._active is not None
        self._active.held_snapshots += 1

    def retire_epoch(self, epoch: int) -> None:
        """After renumbering: record that ``epoch``'s batches live on under new numbers, then delete them."""
        self._append(RecordKind.RETIRED_EPOCH, SEQUENCE.pack(epoch))
        self.sync()
        for segment in list(self._segments.values()):
            if segment.epoch == epoch and segment is not self._active:
                self._delete(segment)

    def _append(self, kind: RecordKind, body: bytes) -> _Location:
        if self._active is None:
            self._roll(self._epoch)  # start() could not; an OSError leaves the record to the caller
        assert self._active is not None
        header = frame(kind, body)
        size = len(header) + len(body)
        if size > self.max_bytes // 2 or len(body) > MAX_RECORD_BYTES:
            raise SpoolFull(f"a {size}-byte record cannot fit in a spool of {self.max_bytes} bytes")
        self._make_room(size)
        if self._active.size >= self.segment_bytes:
            self._roll(self._epoch)
        segment = self._active
        offset = segment.size
        try:
            write_all(self._fd, header + body)
        except OSError:
            self._undo_partial_write(segment, offset)
            raise
        segment.size += size
        self.bytes_appended += size
        self._appended += 1
        if self.commit_interval_s > 0:
            self._dirty.set()
        else:
            self.sync()
        return _Location(segment.id, offset, len(body))

    def _undo_partial_write(self, segment: _Segment, offset: int) -> None:
        # A half-written record would hide every record after it: cut it off,
        # or if even that fails start a new segment.
        try:
            os.ftruncate(self._fd, offset)
        except OSError as exc:
            log.error("cannot truncate spool segment %s (%s): starting a new one", segment.path.name, exc)
            with contextlib.suppress(OSError):
                self._roll(segment.epoch)

    def _make_room(self, size: int) -> None:
        while self.total_bytes + size > self.max_bytes:
            older = [s for s in self._segments.values() if s is not self._active]
            if not older:
                return
            oldest = min(older, key=lambda s: s.id)
            lost = sorted(oldest.live)
            log.warning(
                "spool full (max_bytes=%d): dropping segment %s with %d unacknowledged batches"
                " and %d snapshots not yet batched",
                self.max_bytes,
                oldest.path.name,
                len(lost),
                oldest.held_snapshots,
            )
            self._delete(oldest)
            if lost and self.on_lost is not None:
                self.on_lost(lost)

    def _roll(self, epoch: int) -> None:
        new_id = max(self._segments, default=0) + 1
        path = self.directory / f"{new_id:016d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            write_all(fd, _SEGMENT_HEADER.pack(_SEGMENT_MAGIC, epoch))
            os.fdatasync(fd)
            fsync_directory(self.directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            old_fd, old = self._fd, self._active
            if old_fd >= 0:
                try:
                    os.fdatasync(old_fd)  # the old segment is never synced again
                    self.fsync_count += 1
                finally:
                    os.close(old_fd)
            self._fd = fd
            self._active = _Segment(new_id, path, epoch, _SEGMENT_HEADER.size)
            self._segments[new_id] = self._active
        if old is not None:
            self._delete_if_done(old)

    # -- acknowledgements and trimming -----------------------------------------------------

    def ack(self, sequence: int) -> bool:
        """Forget ``sequence``; False when it is not in the log."""
        location = self._index.get(sequence)
        if location is None:
            return False
        with contextlib.suppress(OSError, SpoolFull):
            self._append(RecordKind.ACK, SEQUENCE.pack(sequence))  # lost: a duplicate resend
        self._forget(sequence)
        segment = self._segments.get(location.segment)
        if segment is not None:
            self._delete_if_done(segment)
        return True

    def _forget(self, sequence: int) -> None:
        location = self._index.pop(sequence, None)
        if location is not None and location.segment in self._segments:
            self._segments[location.segment].live.discard(sequence)

    def _delete_finished(self) -> None:
        for segment in list(self._segments.values()):
            self._delete_if_done(segment)

    def _delete_if_done(self, segment: _Segment) -> None:
        if segment is not self._active and not segment.live and not segment.held_snapshots:
            self._delete(segment)

    def _delete(self, segment: _Segment) -> None:
        # No directory fsync: an unlink lost in a crash only means resends
        # that the collector answers DUPLICATE.
        segment.path.unlink(missing_ok=True)
        del self._segments[segment.id]
        for sequence in segment.live:
            self._index.pop(sequence, None)

    # -- reading batches back --------------------------------------------------------------

    def __contains__(self, sequence: object) -> bool:
        return sequence in self._index

    def __len__(self) -> int:
        return len(self._index)

    @property
    def total_bytes(self) -> int:
        """Bytes the segments take on disk."""
        return sum(s.size for s in self._segments.values())

    @property
    def pending_bytes(self) -> int:
        """Bytes of the batches not yet acknowledged (what a backlog takes, not the segments)."""
        return sum(location.length for location in self._index.values())

    @property
    def segment_count(self) -> int:
        """Segment files on disk, the active one included."""
        return len(self._segments)

    def read(self, sequence: int) -> bytes | None:
        """The payload of batch ``sequence``; None when absent or corrupt (then forgotten)."""
        location = self._index.get(sequence)
        if location is None:
            return None
        segment = self._segments[location.segment]
        try:
            with segment.path.open("rb") as fh:
                data = os.pread(fh.fileno(), FRAME_SIZE + location.length, location.offset)
        except OSError as exc:
            log.error("cannot read batch %d from spool segment %s: %s", sequence, segment.path.name, exc)
            data = b""
        record = parse_record(data, 0)
        if record is None or SEQUENCE.unpack_from(record[1])[0] != sequence:
            log.error("batch %d in spool segment %s is corrupt; discarding it", sequence, segment.path.name)
            self._forget(sequence)
            return None
        return record[1][SEQUENCE.size :]

    # -- durability ------------------------------------------------------------------------

    @property
    def unsynced_records(self) -> int:
        """Records appended but not yet fsync'd."""
        return self._appended - self._synced

    @contextlib.contextmanager
    def metered(self) -> Iterator[None]:
        """Count the CPU the calling thread spends inside the block as the spool's."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.cpu_seconds += time.thread_time() - start

    def sync(self) -> None:
        """Fsync the active segment now."""
        with self._lock:
            target = self._appended
            if target == self._synced or self._fd < 0:
                return
            started, cpu_started = time.monotonic(), time.thread_time()
            os.fdatasync(self._fd)
            self.fsync_count += 1
            self.fsync_seconds += time.monotonic() - started
            if threading.current_thread() is self._syncer:
                self.sync_cpu_seconds += time.thread_time() - cpu_started
        with self._synced_changed:
            self._synced = target
            self._synced_changed.notify_all()

    def wait_synced(self, timeout_s: float) -> bool:
        """Wait until everything appended so far is fsync'd; False on timeout."""
        target = self._appended
        with self._synced_changed:
            return self._synced_changed.wait_for(lambda: self._synced >= target, timeout_s)

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            # Let more appends arrive, then make them all durable with one fsync.
            self._stop.wait(self.commit_interval_s)
            self._dirty.clear()
            try:
                self.sync()
            except OSError as exc:
                log.error("cannot fsync spool segment in %s: %s", self.directory, exc)

    def close(self) -> None:
        """Fsync and close; the log is unusable afterwards."""
        self._stop.set()
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join(10)
            self._syncer = None
        with contextlib.suppress(OSError):
            self.sync()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        log.info(
            "spool closed: %d records (%d bytes) appended, %d fsyncs taking %.3f s,"
            " CPU %.3f s appending and %.3f s syncing",
            self._appended,
            self.bytes_appended,
            self.fsync_count,
            self.fsync_seconds,
            self.cpu_seconds,
            self.sync_cpu_seconds,
        )
