"""Unacknowledged batches: newest in memory (bounded count), older ones in the disk spool."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError

from agent.runtime.sequence import SequenceAllocator
from agent.runtime.spool import DiskSpool
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

    Memory holds at most ``memory_max_batches``; beyond that the oldest spill to
    the spool, so disk always holds older sequences than memory. When the spool
    is full its oldest batches are dropped and ``dropped_total`` counts them.
    """

    def __init__(
        self,
        spool: DiskSpool,
        sequences: SequenceAllocator,
        *,
        memory_max_batches: int,
        on_added: Callable[[], None] | None = None,
    ) -> None:
        self._spool = spool
        self._sequences = sequences
        self._memory_max = memory_max_batches
        self._memory: dict[int, agent_pb2.MessageToServer] = {}
        self._memory_order: list[int] = []
        self.dropped_total = 0
        self.on_added = on_added
        self._recover()

    def _recover(self) -> None:
        stored = self._spool.sequences()
        if not stored:
            return
        self._sequences.skip_to(stored[-1] + 1)
        if not self._sequences.fresh_epoch:
            return
        # The spool outlived the sequence state: its numbers belong to an unknown
        # epoch, so give them new ones in the new epoch rather than lose the data.
        log.warning("renumbering %d spooled batches into new epoch %d", len(stored), self._sequences.epoch)
        for old in stored:
            message = self._read_disk(old)
            if message is None:
                continue
            new = self._sequences.allocate()
            _batch(message).sequence = new
            self._write_disk(new, message)
            self._spool.remove(old)

    @property
    def epoch(self) -> int:
        """The sequence epoch all pending batches belong to."""
        return self._sequences.epoch

    @property
    def pending_count(self) -> int:
        """Batches not yet acknowledged, in memory and on disk."""
        return len(self._memory) + len(self._spool)

    @property
    def spooled_bytes(self) -> int:
        """Bytes currently used by the disk spool."""
        return self._spool.total_bytes

    def oldest_newest(self) -> tuple[int, int]:
        """Oldest and newest pending sequence, ``(0, 0)`` when none."""
        disk = self._spool.sequences()
        oldest = disk[0] if disk else (self._memory_order[0] if self._memory_order else 0)
        newest = self._memory_order[-1] if self._memory_order else (disk[-1] if disk else 0)
        return oldest, newest

    def submit(self, message: agent_pb2.MessageToServer) -> int:
        """Give a batch its sequence and keep it until acknowledged; returns the sequence."""
        sequence = self._sequences.allocate()
        _batch(message).sequence = sequence
        self._memory[sequence] = message
        self._memory_order.append(sequence)
        while len(self._memory_order) > self._memory_max:
            self._spill(self._memory_order[0])
        if self.on_added is not None:
            self.on_added()
        return sequence

    def next_after(self, sequence: int) -> tuple[int, agent_pb2.MessageToServer] | None:
        """The oldest pending batch with a sequence above ``sequence``."""
        while True:
            on_disk = self._spool.first_after(sequence)
            index = bisect.bisect_right(self._memory_order, sequence)
            in_memory = self._memory_order[index] if index < len(self._memory_order) else None
            if on_disk is not None and (in_memory is None or on_disk < in_memory):
                message = self._read_disk(on_disk)
                if message is None:
                    continue  # corrupt file, already removed and counted
                return on_disk, message
            if in_memory is None:
                return None
            return in_memory, self._memory[in_memory]

    def ack(self, sequence: int) -> bool:
        """Forget ``sequence``; False when it was not pending."""
        if self._memory.pop(sequence, None) is not None:
            del self._memory_order[bisect.bisect_left(self._memory_order, sequence)]
            return True
        if sequence in self._spool:
            self._spool.remove(sequence)
            return True
        return False

    def persist_all(self) -> None:
        """Move every in-memory batch to the spool (at shutdown)."""
        for sequence in list(self._memory_order):
            self._spill(sequence)

    def _spill(self, sequence: int) -> None:
        message = self._memory.pop(sequence)
        del self._memory_order[bisect.bisect_left(self._memory_order, sequence)]
        self._write_disk(sequence, message)

    def _write_disk(self, sequence: int, message: agent_pb2.MessageToServer) -> None:
        try:
            evicted = self._spool.write(sequence, message.SerializeToString())
        except OSError as exc:
            log.error("cannot spool batch %d to %s: %s", sequence, self._spool.directory, exc)
            evicted = [sequence]
        for lost in evicted:
            self._count_drop(lost, "spool full")

    def _read_disk(self, sequence: int) -> agent_pb2.MessageToServer | None:
        payload = self._spool.read(sequence)
        if payload is not None:
            try:
                message: agent_pb2.MessageToServer = agent_pb2.MessageToServer.FromString(payload)
                return message
            except DecodeError:
                self._spool.remove(sequence)
        self._count_drop(sequence, "unreadable spool file")
        return None

    def _count_drop(self, sequence: int, reason: str) -> None:
        self.dropped_total += 1
        log.warning(
            "dropped batch %d (%s; spool max_bytes=%d); dropped_batches_total=%d",
            sequence,
            reason,
            self._spool.max_bytes,
            self.dropped_total,
        )
