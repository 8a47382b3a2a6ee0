"""What the bench and a generator process exchange: the plan in, progress and final reports out.

Reports travel as plain dicts through a ``multiprocessing`` queue; per-batch
lags travel as packed arrays so 100,000s of them cost little to send.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.agent_messages import AgentShape

__all__ = ["KIND_DOCKER", "KIND_PERFORMANCE", "AgentSpec", "AgentStats", "ProcessPlan", "Reports"]

KIND_PERFORMANCE = 0
KIND_DOCKER = 1


class Reports(Protocol):
    """The part of ``multiprocessing.Queue`` used to report to the bench."""

    def put(self, obj: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """One simulated agent: the VPS it reports for and its token."""

    index: int  # position in the whole fleet, for phases and staggering
    vps_id: int
    token: str


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """What one generator process runs, and how its agents behave."""

    process_index: int
    target: str
    agents: tuple[AgentSpec, ...]
    fleet_size: int
    shape: AgentShape
    batch_snapshots: int
    batch_max_delay_s: float
    snapshot_interval_s: float
    docker_interval_s: float
    heartbeat_interval_s: float
    agents_per_channel: int
    connect_concurrency: int
    drain_timeout_s: float
    epoch_base: int
    wake_every_s: float = 0.02  # the sampler's shortest sleep: agents due within it share a wake-up
    bundles: bool = True  # announce batch bundles, and use them when the collector offers them


@dataclass(slots=True)
class AgentStats:
    """Counters of one generator process, and one lag entry per acknowledged batch."""

    snapshots_generated: int = 0
    docker_generated: int = 0
    snapshots_acked: int = 0
    docker_acked: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejected_samples: int = 0
    reconnects: int = 0
    max_tick_late_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    # One entry per acknowledged batch: newest sample time (s), lag from newest, from oldest, kind.
    sample_time: array[float] = field(default_factory=lambda: array("d"))
    lag_newest: array[float] = field(default_factory=lambda: array("d"))
    lag_oldest: array[float] = field(default_factory=lambda: array("d"))
    kind: array[int] = field(default_factory=lambda: array("b"))
    _progress_mark: int = 0

    def progress(self, pending_batches: int, now: float) -> dict[str, Any]:
        """Counters so far, and the worst lag since the previous progress report."""
        recent = self.lag_newest[self._progress_mark :]
        self._progress_mark = len(self.lag_newest)
        return {
            "time": now,
            "snapshots_generated": self.snapshots_generated,
            "docker_generated": self.docker_generated,
            "snapshots_acked": self.snapshots_acked,
            "docker_acked": self.docker_acked,
            "pending_batches": pending_batches,
            "reconnects": self.reconnects,
            "recent_lag_max": max(recent, default=0.0),
        }

    def final(self, unacked: dict[int, int], pending_batches: int, drain_s: float) -> dict[str, Any]:
        """Everything, once sampling stopped and acks drained (or the drain timed out)."""
        return {
            "snapshots_generated": self.snapshots_generated,
            "docker_generated": self.docker_generated,
            "snapshots_acked": self.snapshots_acked,
            "docker_acked": self.docker_acked,
            "stored": self.stored,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "rejected_samples": self.rejected_samples,
            "reconnects": self.reconnects,
            "pending_batches": pending_batches,
            "unacked_snapshots": unacked.get(KIND_PERFORMANCE, 0),
            "unacked_docker": unacked.get(KIND_DOCKER, 0),
            "max_tick_late_s": self.max_tick_late_s,
            "errors": dict(self.errors.most_common(8)),
            "drained": pending_batches == 0,
            "drain_s": drain_s,
            "sample_time": self.sample_time.tobytes(),
            "lag_newest": self.lag_newest.tobytes(),
            "lag_oldest": self.lag_oldest.tobytes(),
            "kind": self.kind.tobytes(),
        }
