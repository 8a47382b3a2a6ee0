"""What a load run is asked to do (``LoadConfig``) and what it measured (``LoadResult``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.agent_messages import AgentShape
from bench.probes import CollectorMetrics
from bench.raw_copy import CopyResult

__all__ = ["LoadConfig", "LoadResult"]


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One load run: fleet size, timing, agent behaviour and collector settings."""

    agents: int
    duration_s: float
    warmup_s: float
    processes: int
    batch_snapshots: int
    batch_max_delay_s: float
    shape: AgentShape
    agents_per_channel: int
    connect_concurrency: int
    drain_timeout_s: float
    collector_env: dict[str, str]
    log_dir: Path
    with_raw_copy: bool
    lag_csv: Path | None = None
    collectors: int = 1  # collector processes sharing one port
    wake_every_s: float = 0.02  # generators: agents due within this share one wake-up
    # Announce batch bundles as the real agent does (False: the single-message wire).
    bundles: bool = True
    snapshot_interval_s: float = 1.0
    docker_interval_s: float = 5.0
    heartbeat_interval_s: float = 10.0

    @property
    def offered_rows_per_s(self) -> float:
        per_snapshot = sum(self.shape.rows_per_snapshot().values())
        per_docker = sum(self.shape.rows_per_docker_sample().values())
        return self.agents * (per_snapshot / self.snapshot_interval_s + per_docker / self.docker_interval_s)


@dataclass(slots=True)
class LoadResult:
    """What one load run measured; ``bench.collector_load.summarise`` turns it into figures."""

    config: LoadConfig
    connect_s: float = math.nan
    connected: int = 0
    window_s: float = 0.0
    window_metrics: CollectorMetrics | None = None
    window_cpu: dict[str, float] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lag_newest: list[float] = field(default_factory=list)  # batches whose newest sample is in the window
    lag_oldest: list[float] = field(default_factory=list)
    lag_newest_docker: list[float] = field(default_factory=list)
    expected_rows: dict[str, int] = field(default_factory=dict)
    held_rows: dict[str, int] = field(default_factory=dict)  # unacknowledged at the end of the drain
    db_rows: dict[str, int] = field(default_factory=dict)
    ingested_batches: int = 0
    drained: bool = False
    drain_s: float = math.nan
    collector_exit: int | None = None
    raw: CopyResult | None = None
    raw_cpu: dict[str, float] = field(default_factory=dict)  # "collector" is the bench process here
    maintenance_s: list[float] = field(default_factory=list)
    rows_per_transaction: int = 0
    progress: list[str] = field(default_factory=list)

    @property
    def committed_rows_per_s(self) -> float:
        m = self.window_metrics
        return m.rows_total / self.window_s if m is not None and self.window_s else 0.0

    @property
    def loss_free(self) -> bool:
        return (
            bool(self.expected_rows)
            and self.db_rows == self.expected_rows
            and not self.totals.get("rejected")
        )

    @property
    def loss_verdict(self) -> str:
        """PASS, or why not: rows still held by agents after the drain timeout are not lost."""
        if self.loss_free:
            return "PASS"
        if self.totals.get("rejected"):
            return f"FAIL ({self.totals['rejected']} batches rejected)"
        if any(self.db_rows.get(t, 0) > n for t, n in self.expected_rows.items()):
            return "FAIL (more rows than generated: duplicates stored)"
        short = any(
            self.db_rows.get(t, 0) + self.held_rows.get(t, 0) < n for t, n in self.expected_rows.items()
        )
        if short:
            return "FAIL (rows missing that no agent still holds)"
        return "NOT DRAINED (no loss: the missing rows are still held, unacknowledged, by agents)"
