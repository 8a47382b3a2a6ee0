"""Accumulates performance snapshots into batches by count or age."""

from __future__ import annotations

from proto import agent_pb2

__all__ = ["SnapshotBatcher"]


class SnapshotBatcher:
    """Holds snapshots until there are ``max_snapshots`` or the oldest is ``max_delay_s`` old.

    Pure and clock-free: callers pass monotonic times, so tests need no sleeping.
    Limits are passed per call because the server can change them live.
    """

    def __init__(self) -> None:
        self._snapshots: list[agent_pb2.PerformanceSnapshot] = []
        self._first_added_at: float | None = None

    def __len__(self) -> int:
        return len(self._snapshots)

    def add(self, snapshot: agent_pb2.PerformanceSnapshot, now: float) -> None:
        """Hold one more snapshot taken at monotonic time ``now``."""
        if self._first_added_at is None:
            self._first_added_at = now
        self._snapshots.append(snapshot)

    def deadline(self, max_delay_s: float) -> float | None:
        """When the held snapshots must be sent at the latest; None when empty."""
        if self._first_added_at is None:
            return None
        return self._first_added_at + max_delay_s

    def ready(self, now: float, *, max_snapshots: int, max_delay_s: float) -> bool:
        """Whether a batch should be sent now."""
        deadline = self.deadline(max_delay_s)
        if deadline is None:
            return False
        return len(self._snapshots) >= max_snapshots or now >= deadline

    def take(self) -> agent_pb2.PerformanceSnapshotBatch | None:
        """Everything held, as a batch without a sequence; None when empty."""
        if not self._snapshots:
            return None
        batch = agent_pb2.PerformanceSnapshotBatch(snapshots=self._snapshots)
        self._snapshots = []
        self._first_added_at = None
        return batch
