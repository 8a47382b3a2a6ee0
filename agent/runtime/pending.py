"""Unacknowledged batches: all of them in the segment log on disk, the newest also in memory."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError

from agent.runtime.sequence import SequenceAllocator
from agent.runtime.spool_legacy import read_legacy_batches, remove_legacy_batches
from agent.runtime.spool_log import SegmentLog, SpoolFull
from proto import agent_pb2

__all__ = ["BATCH_FIELDS", "PendingStore", "batch_sequence"]

log = logging.getLogger(__name__)

# The MessageToServer payloads that are batches and carry a sequence.
BATCH_FIELDS = ("performance_batch", "docker_batch", "generic_metrics_batch")


def _batch(message: agent_pb2.MessageToServer) -> agent_pb2.PerformanceSnapshotBatch:
    kind = message.WhichOneof("payload")
    if kind not in BATCH_FIELDS:
        raise ValueError(f"not a batch message: {kind}")
    # All three batch types have `sequence` as field 1; one type hint covers them.
    batch: agent_pb2.PerformanceSnapshotBatch = getattr(message, kind)
    return batch


def batch_sequence(message: agent_pb2.MessageToServer) -> int:
    """The sequence carried by a batch message."""
    return int(_batch(message).sequence)


class PendingStore:
    """Every batch from :meth:`submit` until :meth:`ack`, oldest first.

    The segment log is the truth: a batch is written to it before ``submit``
    returns, and on start everything unacknowledged in it is pending again.
    The newest ``memory_max_batches`` are also kept parsed in memory so a
    resend rarely reads the disk. Snapshots not yet in a batch are written too
    (:meth:`hold_snapshot`), so a crash loses none of them: they come back as
    a batch of their own. Batches the log drops to stay within its cap are
    counted in ``dropped_total``.
    """

    def __init__(
        self,
        spool: SegmentLog,
        sequences: SequenceAllocator,
        *,
        memory_max_batches: int,
        on_added: Callable[[], None] | None = None,
    ) -> None:
        self._log = spool
        self._sequences = sequences
        self._memory_max = memory_max_batches
        self._memory: dict[int, agent_pb2.MessageToServer] = {}  # insertion order = sequence order
        self._order: list[int] = []  # every pending sequence, ascending
        self._volatile: set[int] = set()  # could not be written: memory is all there is
        self.dropped_total = 0
        self.on_added = on_added
        spool.on_lost = self._lost
        self._recover()

    def _recover(self) -> None:
        found = self._log.recovered
        if found.batches:
            self._sequences.skip_to(found.batches[-1][0] + 1)
        epoch = self._sequences.epoch
        self._log.start(epoch)
        stale_epochs = sorted({e for _, e in found.batches if e != epoch})
        for sequence, batch_epoch in found.batches:
            if batch_epoch == epoch:
                self._order.append(sequence)
        try:
            self._import_legacy()
            if stale_epochs:
                self._renumber(found.batches, epoch, stale_epochs)
        except (OSError, SpoolFull) as exc:
            # Everything left on disk is tried again at the next start.
            log.error("cannot take over older spooled batches now: %s", exc)
        if found.held_snapshots:
            self._rebatch(found.held_snapshots)

    def _import_legacy(self) -> None:
        legacy = read_legacy_batches(self._log.directory)
        for sequence, payload in legacy:
            if sequence in self._log:
                continue  # imported before a crash cut the import short
            if self._sequences.fresh_epoch:
                try:
                    self.submit(agent_pb2.MessageToServer.FromString(payload), notify=False)
                except DecodeError:
                    log.error("legacy spooled batch %d does not parse; discarding it", sequence)
                continue
            self._sequences.skip_to(sequence + 1)
            self._log.append_batch(sequence, payload)
            bisect.insort(self._order, sequence)
        self._log.sync()
        remove_legacy_batches(self._log.directory)

    def _renumber(self, batches: list[tuple[int, int]], epoch: int, stale_epochs: list[int]) -> None:
        # The log outlived the sequence state: its numbers belong to another
        # epoch, so give them new ones in this epoch rather than lose the data.
        stale = [sequence for sequence, e in batches if e != epoch]
        log.warning("renumbering %d spooled batches into epoch %d", len(stale), epoch)
        for old in stale:
            message = self._read_disk(old)
            if message is not None:
                self.submit(message, notify=False)
        for old_epoch in stale_epochs:
            self._log.retire_epoch(old_epoch)

    def _rebatch(self, held: list[bytes]) -> None:
        batch = agent_pb2.PerformanceSnapshotBatch()
        for payload in held:
            try:
                batch.snapshots.append(agent_pb2.PerformanceSnapshot.FromString(payload))
            except DecodeError:
                log.error("discarding an unreadable spooled snapshot")
        sequence = self.submit(agent_pb2.MessageToServer(performance_batch=batch), notify=False)
        log.info("%d snapshots taken before the agent stopped are batch %d", len(batch.snapshots), sequence)

    @property
    def epoch(self) -> int:
        """The sequence epoch all pending batches belong to."""
        return self._sequences.epoch

    @property
    def pending_count(self) -> int:
        """Batches not yet acknowledged."""
        return len(self._order)

    @property
    def spooled_bytes(self) -> int:
        """Bytes of the unacknowledged batches in the spool."""
        return self._log.pending_bytes

    def oldest_newest(self) -> tuple[int, int]:
        """Oldest and newest pending sequence, ``(0, 0)`` when none."""
        return (self._order[0], self._order[-1]) if self._order else (0, 0)

    def hold_snapshot(self, snapshot: agent_pb2.PerformanceSnapshot) -> None:
        """Write a snapshot that waits in the batcher, so a crash does not lose it."""
        try:
            with self._log.metered():
                self._log.append_snapshot(snapshot.SerializeToString())
        except (OSError, SpoolFull) as exc:
            log.error("cannot spool a snapshot to %s: %s; it is in memory only", self._log.directory, exc)

    def submit(self, message: agent_pb2.MessageToServer, *, notify: bool = True) -> int:
        """Give a batch its sequence, write it to the log and keep it until acknowledged."""
        sequence = self._sequences.allocate()
        _batch(message).sequence = sequence
        holds_snapshots = message.WhichOneof("payload") == "performance_batch"
        try:
            with self._log.metered():
                self._log.append_batch(sequence, message.SerializeToString(), holds_snapshots=holds_snapshots)
        except (OSError, SpoolFull) as exc:
            log.error(
                "cannot spool batch %d to %s: %s; it is in memory only", sequence, self._log.directory, exc
            )
            self._volatile.add(sequence)
        self._order.append(sequence)
        self._memory[sequence] = message
        while len(self._memory) > self._memory_max:
            oldest = next(iter(self._memory))
            del self._memory[oldest]
            if oldest in self._volatile:
                self._forget(oldest)
                self._count_drop(oldest, "not on disk and out of memory")
        if notify and self.on_added is not None:
            self.on_added()
        return sequence

    def next_after(self, sequence: int) -> tuple[int, agent_pb2.MessageToServer] | None:
        """The oldest pending batch with a sequence above ``sequence``."""
        while True:
            index = bisect.bisect_right(self._order, sequence)
            if index >= len(self._order):
                return None
            found = self._order[index]
            message = self._memory.get(found)
            if message is None:
                message = self._read_disk(found)
            if message is not None:
                return found, message
            # unreadable: already forgotten and counted; look further

    def ack(self, sequence: int) -> bool:
        """Forget ``sequence`` (stored, duplicate or rejected for good); False when it was not pending."""
        index = bisect.bisect_left(self._order, sequence)
        if index >= len(self._order) or self._order[index] != sequence:
            return False
        self._forget(sequence)
        with self._log.metered():
            self._log.ack(sequence)
        return True

    def close(self) -> None:
        """Make everything durable and close the log (at shutdown)."""
        self._log.close()

    def _forget(self, sequence: int) -> None:
        index = bisect.bisect_left(self._order, sequence)
        if index < len(self._order) and self._order[index] == sequence:
            del self._order[index]
        self._memory.pop(sequence, None)
        self._volatile.discard(sequence)

    def _lost(self, sequences: list[int]) -> None:
        for sequence in sequences:
            self._forget(sequence)
            self._count_drop(sequence, "spool full")

    def _read_disk(self, sequence: int) -> agent_pb2.MessageToServer | None:
        payload = self._log.read(sequence)
        if payload is not None:
            try:
                message: agent_pb2.MessageToServer = agent_pb2.MessageToServer.FromString(payload)
                return message
            except DecodeError:
                log.error("spooled batch %d does not parse", sequence)
                self._log.ack(sequence)
        self._forget(sequence)
        self._count_drop(sequence, "unreadable in the spool")
        return None

    def _count_drop(self, sequence: int, reason: str) -> None:
        self.dropped_total += 1
        log.warning(
            "dropped batch %d (%s; spool max_bytes=%d); dropped_batches_total=%d",
            sequence,
            reason,
            self._log.max_bytes,
            self.dropped_total,
        )
