"""What the load benchmark measures besides the agents: CPU of processes, and /metrics.

CPU is read from ``/proc`` through psutil: the collector process, the
generator processes, and PostgreSQL's server processes, found as the children
of the postmaster serving the data directory. Backends are told apart by their
process title, which names the database they serve. Processes that exit keep
the CPU time last sampled for them, so sample often (once a second).
"""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psutil
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "CollectorMetrics",
    "CpuMonitor",
    "CpuSample",
    "find_postmaster",
    "histogram_quantile",
    "percentile",
    "scrape_metrics",
]

PGDATA = "/var/lib/tidewatch/pgdata"


def find_postmaster(data_dir: str = PGDATA) -> psutil.Process | None:
    """The postmaster whose command line names ``data_dir``; None if not visible."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and data_dir in cmdline:
            return proc
    return None


@dataclass(frozen=True, slots=True)
class CpuSample:
    """Cumulative CPU seconds (user + system) per group, and the machine's busy seconds."""

    wall: float
    groups: dict[str, float]
    machine_busy: float

    def since(self, earlier: CpuSample) -> dict[str, float]:
        out = {g: v - earlier.groups.get(g, 0.0) for g, v in self.groups.items()}
        out["machine"] = self.machine_busy - earlier.machine_busy
        return out


@dataclass
class CpuMonitor:
    """Tracks groups: ``collector``, ``generators``, ``postgres_bench`` and ``postgres_other``."""

    bench_dbname: str
    collector: psutil.Process | None = None
    generators: list[psutil.Process] = field(default_factory=list)
    postmaster: psutil.Process | None = field(default_factory=find_postmaster)
    _last: dict[tuple[int, float], tuple[str, float]] = field(default_factory=dict)
    _groups: dict[tuple[int, float], str] = field(default_factory=dict)

    def _tracked(self) -> Iterable[tuple[str | None, psutil.Process]]:
        if self.collector is not None:
            yield "collector", self.collector
        for proc in self.generators:
            yield "generators", proc
        if self.postmaster is not None:
            yield "postgres_other", self.postmaster
            try:
                children = self.postmaster.children()
            except psutil.Error:
                children = []
            for child in children:
                yield None, child

    def sample(self, wall: float) -> CpuSample:
        for group, proc in self._tracked():
            try:
                key = (proc.pid, proc.create_time())
                if group is None:
                    group = self._groups.get(key)
                    if group is None:
                        title = " ".join(proc.cmdline())
                        group = "postgres_bench" if self.bench_dbname in title else "postgres_other"
                        self._groups[key] = group
                times = proc.cpu_times()
            except psutil.Error:
                continue  # exited: keeps its last sampled time
            self._last[key] = (group, times.user + times.system)
        groups = {"collector": 0.0, "generators": 0.0, "postgres_bench": 0.0, "postgres_other": 0.0}
        for group, seconds in self._last.values():
            groups[group] += seconds
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal
        return CpuSample(wall, groups, busy)


@dataclass(frozen=True, slots=True)
class CollectorMetrics:
    """The collector's Prometheus counters at one moment."""

    rows: dict[str, float]
    flushes: float
    flush_seconds: float
    lag_buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count)
    queue_rows: float
    batches: dict[str, float]
    agents_connected: float
    bundles: float = 0.0  # BatchBundle messages received

    @property
    def rows_total(self) -> float:
        return sum(self.rows.values())

    def since(self, earlier: CollectorMetrics) -> CollectorMetrics:
        before = dict(earlier.lag_buckets)
        return CollectorMetrics(
            rows={t: n - earlier.rows.get(t, 0.0) for t, n in self.rows.items()},
            flushes=self.flushes - earlier.flushes,
            flush_seconds=self.flush_seconds - earlier.flush_seconds,
            lag_buckets=tuple((le, n - before.get(le, 0.0)) for le, n in self.lag_buckets),
            queue_rows=self.queue_rows,
            batches={k: n - earlier.batches.get(k, 0.0) for k, n in self.batches.items()},
            agents_connected=self.agents_connected,
            bundles=self.bundles - earlier.bundles,
        )


def scrape_metrics(port: int, timeout_s: float = 5.0) -> CollectorMetrics:
    """Read ``http://127.0.0.1:<port>/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as response:
        text = response.read().decode()
    rows: dict[str, float] = {}
    batches: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    flushes = flush_seconds = queue_rows = agents = bundles = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "tidewatch_collector_rows_total":
                rows[labels["table"]] = value
            elif name == "tidewatch_collector_batches_total":
                key = labels["outcome"] + (f"/{labels['reason']}" if labels.get("reason") else "")
                batches[key] = batches.get(key, 0.0) + value
            elif name == "tidewatch_collector_ingest_lag_seconds_bucket":
                buckets.append((float(labels["le"]), value))
            elif name == "tidewatch_collector_flush_seconds_count":
                flushes = value
            elif name == "tidewatch_collector_flush_seconds_sum":
                flush_seconds = value
            elif name == "tidewatch_collector_queue_rows":
                queue_rows = value
            elif name == "tidewatch_collector_agents_connected":
                agents = value
            elif name == "tidewatch_collector_batch_bundles_total":
                bundles = value
    return CollectorMetrics(
        rows, flushes, flush_seconds, tuple(sorted(buckets)), queue_rows, batches, agents, bundles
    )


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus-style: linear within the bucket that holds the q-quantile; nan when empty."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of unsorted values; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
