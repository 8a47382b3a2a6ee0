"""One load run: a fresh database, the collector subprocess(es), generator processes, measurements.

``run_load`` drives the phases and returns a ``LoadResult``; it cleans up (the
generators, the collector, the database) on every exit, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import re
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.fleet import CollectorProcess, create_bench_database, drop_bench_database, insert_vps
from bench.load_figures import LoadConfig, LoadResult
from bench.probes import CollectorMetrics, CpuMonitor, CpuSample, scrape_metrics
from bench.raw_copy import CopyPlan, raw_copy
from bench.sim_agents import run_agent_process
from bench.sim_protocol import KIND_DOCKER, AgentSpec, ProcessPlan
from collector import tables
from common.tokens import IssuedToken

__all__ = ["run_load"]

PROGRESS_EVERY_S = 10.0
MAINTENANCE_LINE = re.compile(r"rollups refreshed \((\d+) buckets\).* in ([0-9.]+) s")
CONNECT_TIMEOUT_S = 300.0


def _plans(
    config: LoadConfig, target: str, tokens: list[IssuedToken], vps_ids: list[int]
) -> list[ProcessPlan]:
    specs = [AgentSpec(i, vps_ids[i], tokens[i].token) for i in range(config.agents)]
    epoch_base = int(time.time())
    return [
        ProcessPlan(
            process_index=p,
            target=target,
            agents=tuple(specs[p :: config.processes]),
            fleet_size=config.agents,
            shape=config.shape,
            batch_snapshots=config.batch_snapshots,
            batch_max_delay_s=config.batch_max_delay_s,
            snapshot_interval_s=config.snapshot_interval_s,
            docker_interval_s=config.docker_interval_s,
            heartbeat_interval_s=config.heartbeat_interval_s,
            agents_per_channel=config.agents_per_channel,
            connect_concurrency=config.connect_concurrency,
            drain_timeout_s=config.drain_timeout_s,
            epoch_base=epoch_base * 100_000,
            wake_every_s=config.wake_every_s,
            bundles=config.bundles,
        )
        for p in range(config.processes)
    ]


@dataclass
class _FleetCpuMonitor(CpuMonitor):
    """``CpuMonitor`` that sums several collector processes into its ``collector`` group."""

    more_collectors: list[psutil.Process] = field(default_factory=list)

    def _tracked(self) -> Iterable[tuple[str | None, psutil.Process]]:
        yield from super()._tracked()
        for proc in self.more_collectors:
            yield "collector", proc


def sum_metrics(parts: list[CollectorMetrics]) -> CollectorMetrics:
    """The counters of several collectors serving one database, added up."""
    rows: dict[str, float] = {}
    batches: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for m in parts:
        for table, n in m.rows.items():
            rows[table] = rows.get(table, 0.0) + n
        for key, n in m.batches.items():
            batches[key] = batches.get(key, 0.0) + n
        for le, n in m.lag_buckets:
            buckets[le] = buckets.get(le, 0.0) + n
    return CollectorMetrics(
        rows=rows,
        flushes=sum(m.flushes for m in parts),
        flush_seconds=sum(m.flush_seconds for m in parts),
        lag_buckets=tuple(sorted(buckets.items())),
        queue_rows=sum(m.queue_rows for m in parts),
        batches=batches,
        agents_connected=sum(m.agents_connected for m in parts),
        bundles=sum(m.bundles for m in parts),
    )


class _Collectors:
    """``count`` collector processes listening on one port (``SO_REUSEPORT``)."""

    def __init__(self, dsn: str, count: int, log_dir: Path, agents: int, env: dict[str, str]) -> None:
        self.processes: list[CollectorProcess] = []
        for index in range(count):
            suffix = f"-{index}" if count > 1 else ""
            port = self.processes[0].port if self.processes else None
            self.processes.append(
                CollectorProcess(
                    dsn, log_dir / f"collector-{agents}{suffix}.log", env, port=port, index=index
                )
            )

    @property
    def target(self) -> str:
        return self.processes[0].target

    def wait_ready(self) -> None:
        for process in self.processes:
            process.wait_ready()

    def scrape(self) -> CollectorMetrics:
        return sum_metrics([scrape_metrics(p.metrics_port) for p in self.processes])

    def stop(self) -> int | None:
        """Stop them all; the first non-zero exit status, else 0 (None if one never exited)."""
        codes = [process.stop() for process in self.processes]
        return next((code for code in codes if code != 0), 0)

    def maintenance_runs_s(self) -> list[float]:
        return [
            float(m[2])
            for p in self.processes
            for m in MAINTENANCE_LINE.finditer(p.log_path.read_text(errors="replace"))
        ]


def _count_rows(dsn: str) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        for name in tables.TABLES:
            row = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
            counts[name] = int(row[0]) if row else 0
        row = conn.execute("SELECT count(*) FROM ingested_batches").fetchone()
    return counts, int(row[0]) if row else 0


class _Run:
    """The mutable state of one run; ``run_load`` is its only user."""

    def __init__(self, config: LoadConfig, result: LoadResult) -> None:
        self.config = config
        self.result = result
        self.ctx = multiprocessing.get_context("spawn")
        self.reports: Any = self.ctx.Queue()
        self.processes: list[Any] = []
        self.controls: list[Any] = []
        self.latest: dict[int, dict[str, Any]] = {}
        self.finals: dict[int, dict[str, Any]] = {}

    def start_generators(self, plans: list[ProcessPlan]) -> None:
        for plan in plans:
            parent, child = self.ctx.Pipe()
            proc = self.ctx.Process(
                target=run_agent_process,
                args=(plan, child, self.reports),
                name=f"bench-agents-{plan.process_index}",
            )
            proc.start()
            self.processes.append(proc)
            self.controls.append(parent)

    def stop_generators(self) -> None:
        for control in self.controls:
            with contextlib.suppress(OSError):
                control.send((0.0, 0.0))
        deadline = time.monotonic() + 3.0
        for proc in self.processes:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self.processes:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)

    def poll(self, timeout_s: float) -> tuple[Any, ...] | None:
        try:
            message: tuple[Any, ...] = self.reports.get(timeout=max(timeout_s, 0.01))
        except queue.Empty:
            return None
        if message[0] == "progress":
            self.latest[message[1]] = message[2]
        elif message[0] == "final":
            self.finals[message[1]] = message[2]
        return message

    def check_alive(self) -> None:
        for proc in self.processes:
            if proc.exitcode not in (None, 0):
                raise RuntimeError(f"generator process {proc.name} died with exit code {proc.exitcode}")

    def acked_rows(self) -> float:
        per_snapshot = sum(self.config.shape.rows_per_snapshot().values())
        per_docker = sum(self.config.shape.rows_per_docker_sample().values())
        return float(
            sum(
                p["snapshots_acked"] * per_snapshot + p["docker_acked"] * per_docker
                for p in self.latest.values()
            )
        )


def _progress_line(
    run: _Run,
    started: float,
    now: float,
    last: tuple[float, float, CpuSample],
    cpu: CpuSample,
    metrics: CollectorMetrics,
) -> str:
    last_time, last_acked, last_cpu = last
    spent = cpu.since(last_cpu)
    span = max(now - last_time, 1e-6)
    latest = run.latest.values()
    return (
        f"  t={now - started:5.0f}s acked {(run.acked_rows() - last_acked) / span:8.0f} rows/s"
        f" | pending batches {sum(p['pending_batches'] for p in latest):6d}"
        f" | max lag {max((p['recent_lag_max'] for p in latest), default=0.0):6.2f}s"
        f" | collector queue {metrics.queue_rows:7.0f} rows"
        f" | CPU collector {100 * spent['collector'] / span:4.0f}%"
        f" pg {100 * spent['postgres_bench'] / span:3.0f}%+{100 * spent['postgres_other'] / span:.0f}%"
        f" agents {100 * spent['generators'] / span:4.0f}%"
        f" machine {100 * spent['machine'] / span:4.0f}%"
        f" | reconnects {sum(p['reconnects'] for p in latest)}"
    )


def _collect_finals(run: _Run, result: LoadResult, window: tuple[float, float]) -> None:
    csv = run.config.lag_csv.open("w") if run.config.lag_csv is not None else None
    if csv is not None:
        csv.write("process,kind,newest_sample_unix_s,lag_newest_s,lag_oldest_s\n")
    totals: dict[str, Any] = {}
    errors: dict[str, int] = {}
    result.drained = all(f["drained"] for f in run.finals.values())
    result.drain_s = max(f["drain_s"] for f in run.finals.values())
    for index, final in run.finals.items():
        for key, value in final.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "drain_s":
                totals[key] = (
                    max(totals.get(key, 0), value) if key == "max_tick_late_s" else totals.get(key, 0) + value
                )
        for message, n in final["errors"].items():
            errors[message] = errors.get(message, 0) + n
        sample_time, newest, oldest, kind = (
            array("d", final["sample_time"]),
            array("d", final["lag_newest"]),
            array("d", final["lag_oldest"]),
            array("b", final["kind"]),
        )
        for i, at in enumerate(sample_time):
            if csv is not None:
                csv.write(f"{index},{kind[i]},{at:.3f},{newest[i]:.4f},{oldest[i]:.4f}\n")
            if window[0] <= at < window[1]:
                result.lag_newest.append(newest[i])
                result.lag_oldest.append(oldest[i])
                if kind[i] == KIND_DOCKER:
                    result.lag_newest_docker.append(newest[i])
    if csv is not None:
        csv.close()
    result.totals = totals
    result.errors = errors
    result.expected_rows = run.config.shape.expected_rows(
        totals["snapshots_generated"], totals["docker_generated"]
    )
    result.held_rows = run.config.shape.expected_rows(totals["unacked_snapshots"], totals["unacked_docker"])


def run_load(config: LoadConfig, server_dsn: str, tokens: list[IssuedToken], say: Any = print) -> LoadResult:
    """Run the fleet against a fresh collector and database; measure; clean up."""
    result = LoadResult(config)
    with contextlib.ExitStack() as cleanup:
        dsn = create_bench_database()
        cleanup.callback(drop_bench_database, dsn)
        dbname = str(conninfo_to_dict(dsn)["dbname"])
        vps_ids = insert_vps(dsn, tokens[: config.agents])
        collector = _Collectors(dsn, config.collectors, config.log_dir, config.agents, config.collector_env)
        cleanup.callback(collector.stop)
        collector.wait_ready()
        for process in collector.processes:
            say(
                f"collector pid {process.proc.pid} on {process.target}; database {dbname}; log {process.log_path}"
            )

        run = _Run(config, result)
        cleanup.callback(run.stop_generators)
        run.start_generators(_plans(config, collector.target, tokens, vps_ids))
        first, *more = (psutil.Process(p.proc.pid) for p in collector.processes)
        monitor = _FleetCpuMonitor(dbname, first, more_collectors=more)
        monitor.generators = [psutil.Process(p.pid) for p in run.processes]

        connect_started = time.monotonic()
        connected = 0
        reported = 0
        while reported < config.processes:
            if time.monotonic() - connect_started > CONNECT_TIMEOUT_S:
                raise RuntimeError("agents did not finish connecting")
            run.check_alive()
            message = run.poll(1.0)
            if message is not None and message[0] == "connected":
                reported += 1
                connected += message[2]
                for error, n in message[4].items():
                    result.errors[error] = result.errors.get(error, 0) + n
        result.connect_s = time.monotonic() - connect_started
        result.connected = connected
        say(f"{connected}/{config.agents} agents connected in {result.connect_s:.1f} s")
        if connected < config.agents:
            raise RuntimeError(f"only {connected} of {config.agents} agents connected: {result.errors}")

        start_at = time.time() + 2.0
        window_start = start_at + config.warmup_s
        stop_at = window_start + config.duration_s
        for control in run.controls:
            control.send((start_at, stop_at))
        cpu0 = cpu_last = monitor.sample(time.time())
        m0: CollectorMetrics | None = None
        m1: CollectorMetrics | None = None
        cpu_window0 = cpu_window1 = cpu0
        last_print = (time.time(), 0.0, cpu0)
        say(
            f"load: {config.agents} agents, warmup {config.warmup_s:.0f} s, steady window {config.duration_s:.0f} s"
        )
        while len(run.finals) < config.processes:
            now = time.time()
            if now > stop_at + config.drain_timeout_s + 120:
                raise RuntimeError("generators did not report after the drain timeout")
            run.check_alive()
            run.poll(min(1.0, max(0.05, (window_start if m0 is None else stop_at) - now)))
            now = time.time()
            cpu_last = monitor.sample(now)
            if m0 is None and now >= window_start:
                m0, cpu_window0 = collector.scrape(), cpu_last
            elif m0 is not None and m1 is None and now >= stop_at:
                m1, cpu_window1 = collector.scrape(), cpu_last
                result.window_s = cpu_window1.wall - cpu_window0.wall
            if now - last_print[0] >= PROGRESS_EVERY_S:
                line = _progress_line(run, start_at, now, last_print, cpu_last, collector.scrape())
                result.progress.append(line)
                say(line)
                last_print = (now, run.acked_rows(), cpu_last)
        assert m0 is not None and m1 is not None
        result.window_metrics = m1.since(m0)
        result.window_cpu = cpu_window1.since(cpu_window0)
        _collect_finals(run, result, (window_start, stop_at))
        say(
            f"load stopped; acks drained in {result.drain_s:.1f} s"
            if result.drained
            else "acks did NOT drain"
        )

        deadline = time.monotonic() + 30
        while collector.scrape().queue_rows > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        result.db_rows, result.ingested_batches = _count_rows(dsn)
        result.db_rows = {t: n for t, n in result.db_rows.items() if t in result.expected_rows or n}
        windowed = result.window_metrics
        result.rows_per_transaction = round(windowed.rows_total / windowed.flushes) if windowed.flushes else 0
        run.stop_generators()
        result.collector_exit = collector.stop()
        result.maintenance_s = collector.maintenance_runs_s()

    if config.with_raw_copy and result.rows_per_transaction:
        say(
            f"raw COPY: same rows, {result.rows_per_transaction} rows per transaction, into a fresh database…"
        )
        copy_dsn = create_bench_database()
        copy_monitor = CpuMonitor(str(conninfo_to_dict(copy_dsn)["dbname"]), psutil.Process())
        before = copy_monitor.sample(time.time())
        try:
            result.raw = raw_copy(
                copy_dsn,
                CopyPlan(
                    agents=config.agents,
                    snapshots=int(result.totals["snapshots_generated"]),
                    docker_samples=int(result.totals["docker_generated"]),
                    rows_per_transaction=result.rows_per_transaction,
                    shape=config.shape,
                ),
                after_transaction=lambda: copy_monitor.sample(time.time()),
            )
            result.raw_cpu = copy_monitor.sample(time.time()).since(before)
        finally:
            drop_bench_database(copy_dsn)
    return result
