"""The sampling loops: host snapshots, Docker and generic metrics, turned into batches."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from agent.runtime.batcher import SnapshotBatcher
from agent.runtime.live import LiveSettings
from agent.runtime.overruns import OverrunWatch
from proto import agent_pb2

__all__ = ["Cadence", "Samplers", "SamplingLoops"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Samplers:
    """What the runtime samples; each is blocking and runs in a worker thread.

    ``snapshot`` returns None when it has no rate yet (its first call).
    ``docker`` and ``generic`` are optional.
    """

    snapshot: Callable[[], agent_pb2.PerformanceSnapshot | None]
    docker: Callable[[], agent_pb2.DockerInfoBatch] | None = None
    generic: Callable[[], list[agent_pb2.GenericMetric]] | None = None


class Cadence:
    """Start-to-start scheduling that keeps its rhythm but never bursts to catch up."""

    def __init__(self) -> None:
        self.last: float | None = None

    def due(self, interval_s: float) -> float:
        """When the next tick is due (``-inf`` before the first)."""
        return -math.inf if self.last is None else self.last + interval_s

    def mark(self, now: float, interval_s: float) -> None:
        """Record a tick taken at ``now``."""
        due = self.due(interval_s)
        # On time or slightly late: stay on the grid. Far behind (suspend, slow
        # sampler): restart the grid from now instead of firing a burst.
        self.last = due if now - due < interval_s else now


class SamplingLoops:
    """Runs the samplers on the live intervals and submits each batch.

    Sampling never waits for the network: ``submit`` puts batches into the
    pending store, connected or not, so an outage leaves no gap.
    """

    def __init__(
        self,
        samplers: Samplers,
        settings: LiveSettings,
        submit: Callable[[agent_pb2.MessageToServer], object],
        *,
        on_snapshot: Callable[[agent_pb2.PerformanceSnapshot], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._samplers = samplers
        self._settings = settings
        self._submit = submit
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._batcher = SnapshotBatcher()
        self._snapshot_cadence = Cadence()
        self._running = False
        self._failing: set[str] = set()
        # Totals since start, logged at shutdown: what was taken, to compare with what was stored.
        self.snapshots_taken = 0
        self.docker_samples_taken = 0
        self.docker_overruns = OverrunWatch("Docker")

    async def run(self) -> None:
        """Run every configured loop until cancelled."""
        self._running = True
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._snapshot_loop(), name="sample-host")
                docker = self._samplers.docker
                if docker is not None:
                    group.create_task(self._docker_loop(docker), name="sample-docker")
                generic = self._samplers.generic
                if generic is not None:
                    group.create_task(self._generic_loop(generic), name="sample-generic")
        finally:
            self._running = False  # stopping: no batch is due any more, nothing should wait for one

    def flush(self) -> None:
        """Submit the snapshots held for the current batch (at shutdown)."""
        batch = self._batcher.take()
        if batch is not None:
            self._submit(agent_pb2.MessageToServer(performance_batch=batch))

    async def _sample(self, name: str, sampler: Callable[[], T]) -> T | None:
        # A failing sampler is logged once per failure streak and retried on the
        # next tick; the other loops and the stream carry on.
        try:
            value = await asyncio.to_thread(sampler)
        except Exception:
            if name not in self._failing:
                log.exception("%s sampler failed; will keep retrying", name)
                self._failing.add(name)
            return None
        if name in self._failing:
            log.info("%s sampler recovered", name)
            self._failing.discard(name)
        return value

    def next_batch_due(self) -> float | None:
        """When the next performance batch will be cut (monotonic), if the host loop is running.

        By count (the snapshots still missing, one per interval) or by age, whichever comes first.
        """
        cadence = self._snapshot_cadence
        if cadence.last is None or not self._running:
            return None
        iv = self._settings.intervals
        next_snapshot = cadence.due(iv.snapshot_interval_s)
        missing = max(0, iv.batch_max_snapshots - len(self._batcher) - 1)
        by_count = next_snapshot + missing * iv.snapshot_interval_s
        by_age = self._batcher.deadline(iv.batch_max_delay_s)
        if by_age is None:
            by_age = next_snapshot + iv.batch_max_delay_s
        return min(by_count, by_age)

    async def _snapshot_loop(self) -> None:
        cadence = self._snapshot_cadence
        while True:
            iv = self._settings.intervals
            if self._clock() >= cadence.due(iv.snapshot_interval_s):
                cadence.mark(self._clock(), iv.snapshot_interval_s)
                snapshot = await self._sample("host", self._samplers.snapshot)
                if snapshot is not None:
                    self.snapshots_taken += 1
                    if self._on_snapshot is not None:
                        self._on_snapshot(snapshot)  # durable before it counts as taken
                    log.debug("snapshot taken at %d", snapshot.timestamp_unix_ms)
                    self._batcher.add(snapshot, self._clock())
            iv = self._settings.intervals
            ready = self._batcher.ready(
                self._clock(),
                max_snapshots=iv.batch_max_snapshots,
                max_delay_s=iv.batch_max_delay_s,
            )
            if ready:
                self.flush()
            wake = min(
                cadence.due(iv.snapshot_interval_s),
                self._batcher.deadline(iv.batch_max_delay_s) or math.inf,
            )
            await self._settings.wait_changed(wake - self._clock())

    async def _periodic(self, interval_of: Callable[[], float], tick: Callable[[], Awaitable[None]]) -> None:
        cadence = Cadence()
        while True:
            if self._clock() >= cadence.due(interval_of()):
                cadence.mark(self._clock(), interval_of())
                await tick()
            await self._settings.wait_changed(cadence.due(interval_of()) - self._clock())

    async def _docker_loop(self, sampler: Callable[[], agent_pb2.DockerInfoBatch]) -> None:
        async def tick() -> None:
            if not self._settings.features.docker:
                return
            started = self._clock()
            batch = await self._sample("docker", sampler)
            if batch is not None:
                self.docker_overruns.note(
                    self._clock() - started, self._settings.intervals.docker_interval_s, len(batch.containers)
                )
                self.docker_samples_taken += 1
                self._submit(agent_pb2.MessageToServer(docker_batch=batch))

        await self._periodic(lambda: self._settings.intervals.docker_interval_s, tick)

    async def _generic_loop(self, sampler: Callable[[], list[agent_pb2.GenericMetric]]) -> None:
        async def tick() -> None:
            metrics = await self._sample("generic metrics", sampler)
            if metrics:
                batch = agent_pb2.GenericMetricsBatch(metrics=metrics)
                self._submit(agent_pb2.MessageToServer(generic_metrics_batch=batch))

        await self._periodic(lambda: self._settings.intervals.generic_interval_s, tick)
