"""Collector load benchmark: a simulated fleet over real gRPC against the real collector.

    .venv/bin/python -m bench.collector_load                       # 2000 agents, 300 s
    .venv/bin/python -m bench.collector_load --agents 200 --duration 30 --warmup 10
    .venv/bin/python -m bench.collector_load --sweep 250,500,1000,2000 --duration 60
    .venv/bin/python -m bench.collector_load --saturate --agents 1000 --step 1.5 --duration 30

It creates a fresh database with one VPS (and token) per agent, starts
``tidewatch-collector`` as a subprocess on loopback ports, runs the agents in
separate processes, and prints committed rows/s, ingest lag, CPU of the
collector and of PostgreSQL, a zero-loss check, and the ratio to raw binary
COPY of the same rows. It is a benchmark, not a test: nothing is asserted,
the exit status is 0 unless something broke. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.agent_messages import AgentShape
from bench.fleet import issue_tokens, local_server_dsn
from bench.load_figures import LoadConfig, LoadResult
from bench.load_run import run_load
from bench.probes import histogram_quantile, percentile
from bench.saturation import GOAL_P99_LAG_S, next_fleet, print_saturation, saturated
from common.tokens import IssuedToken

__all__ = ["main"]

GOAL_AGENTS = 2000
GOAL_RATIO = 0.5


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.collector_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=GOAL_AGENTS)
    p.add_argument("--duration", type=float, default=300.0, help="steady window, seconds (after warmup)")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds of load before the window")
    p.add_argument("--processes", type=int, default=4, help="generator processes")
    p.add_argument(
        "--collectors", type=int, default=1,
        help="collector processes sharing one port (SO_REUSEPORT); their CPU is summed",
    )  # fmt: skip
    p.add_argument(
        "--wake-every", type=float, default=0.02,
        help="generators: shortest sleep, s; agents due within it share a wake-up (0: one each)",
    )  # fmt: skip
    p.add_argument("--batch-snapshots", type=int, default=5, help="snapshots per batch (1 = unbatched 1 Hz)")
    p.add_argument("--batch-max-delay", type=float, default=5.0, help="seconds an agent holds a snapshot")
    p.add_argument("--disks", type=int, default=4)
    p.add_argument("--interfaces", type=int, default=3)
    p.add_argument("--containers", type=int, default=10)
    p.add_argument("--agents-per-channel", type=int, default=10, help="streams sharing one TCP connection")
    p.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight per process")
    p.add_argument("--drain-timeout", type=float, default=120.0)
    p.add_argument("--no-raw-copy", action="store_true", help="skip the raw COPY ceiling")
    p.add_argument("--sweep", default="", help="comma-separated agent counts, one run each (no raw COPY)")
    p.add_argument(
        "--saturate", action="store_true",
        help="from --agents, multiply the fleet by --step until a run is not sustained (bench/saturation.py)",
    )  # fmt: skip
    p.add_argument("--step", type=float, default=1.5, help="saturation: fleet growth per run")
    p.add_argument("--max-agents", type=int, default=8000, help="saturation: the largest fleet tried")
    p.add_argument(
        "--collector-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra collector setting, e.g. TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS=100",
    )  # fmt: skip
    p.add_argument(
        "--wire",
        choices=("bundles", "single"),
        default="bundles",
        help="bundles: agents announce batch bundles, as agent.runtime does; single: one batch per message",
    )
    p.add_argument("--log-dir", type=Path, default=None, help="where the collector logs go")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--lag-csv", type=Path, default=None, help="write every batch's lag here (one run only)")
    return p.parse_args(argv)


def _config(args: argparse.Namespace, agents: int, with_raw_copy: bool, log_dir: Path) -> LoadConfig:
    env = dict(item.split("=", 1) for item in args.collector_env)
    return LoadConfig(
        agents=agents,
        duration_s=args.duration,
        warmup_s=args.warmup,
        processes=max(1, min(args.processes, agents)),
        batch_snapshots=args.batch_snapshots,
        batch_max_delay_s=args.batch_max_delay,
        shape=AgentShape(disks=args.disks, interfaces=args.interfaces, containers=args.containers),
        agents_per_channel=args.agents_per_channel,
        connect_concurrency=args.connect_concurrency,
        drain_timeout_s=args.drain_timeout,
        collector_env=env,
        log_dir=log_dir,
        with_raw_copy=with_raw_copy,
        lag_csv=args.lag_csv,
        collectors=max(1, args.collectors),
        wake_every_s=max(0.0, args.wake_every),
        bundles=args.wire == "bundles",
    )


def summarise(r: LoadResult) -> dict[str, Any]:
    """The figures of one run, flat and JSON-ready."""
    c, m = r.config, r.window_metrics
    cpu = r.window_cpu
    window = r.window_s or math.nan
    pg = cpu.get("postgres_bench", 0.0) + cpu.get("postgres_other", 0.0)
    out: dict[str, Any] = {
        "agents": c.agents,
        "collectors": c.collectors,
        "generator_wake_every_s": c.wake_every_s,
        "wire": "bundles" if c.bundles else "single",
        "batch_snapshots": c.batch_snapshots,
        "window_s": round(r.window_s, 1),
        "offered_rows_per_s": round(c.offered_rows_per_s),
        "committed_rows_per_s": round(r.committed_rows_per_s),
        "committed_over_offered": round(r.committed_rows_per_s / c.offered_rows_per_s, 3),
        "lag_newest_p50_s": round(percentile(r.lag_newest, 0.50), 3),
        "lag_newest_p99_s": round(percentile(r.lag_newest, 0.99), 3),
        "lag_newest_max_s": round(max(r.lag_newest, default=math.nan), 3),
        "lag_docker_p99_s": round(percentile(r.lag_newest_docker, 0.99), 3),
        "lag_oldest_p50_s": round(percentile(r.lag_oldest, 0.50), 3),
        "lag_oldest_p99_s": round(percentile(r.lag_oldest, 0.99), 3),
        "lag_batches": len(r.lag_newest),
        "collector_hist_lag_p50_s": round(histogram_quantile(0.5, m.lag_buckets), 3) if m else None,
        "collector_hist_lag_p99_s": round(histogram_quantile(0.99, m.lag_buckets), 3) if m else None,
        "rows_per_transaction": r.rows_per_transaction,
        "flushes_per_s": round(m.flushes / window, 2) if m else None,
        "batches_per_s": round(sum(m.batches.values()) / window, 1) if m else None,
        "bundles_per_s": round(m.bundles / window, 1) if m else None,
        "flush_seconds_mean": round(m.flush_seconds / m.flushes, 4) if m and m.flushes else None,
        "cpu_collector_s": round(cpu.get("collector", 0.0), 1),
        "cpu_collector_pct": round(100 * cpu.get("collector", 0.0) / window, 1),
        "cpu_postgres_bench_s": round(cpu.get("postgres_bench", 0.0), 1),
        "cpu_postgres_all_s": round(pg, 1),
        "cpu_postgres_all_pct": round(100 * pg / window, 1),
        "cpu_generators_pct": round(100 * cpu.get("generators", 0.0) / window, 1),
        "cpu_system_pct": round(100 * (cpu.get("collector", 0.0) + pg) / window, 1),
        "cpu_machine_pct": round(100 * cpu.get("machine", 0.0) / window, 1),
        "collector_cpu_s_per_mrows": round(cpu.get("collector", 0.0) / (m.rows_total / 1e6), 1)
        if m and m.rows_total
        else None,
        "pg_cpu_s_per_mrows": round(pg / (m.rows_total / 1e6), 1) if m and m.rows_total else None,
        "generators_cpu_s_per_mrows": round(cpu.get("generators", 0.0) / (m.rows_total / 1e6), 1)
        if m and m.rows_total
        else None,
        "maintenance_runs_s": r.maintenance_s,
        "connect_s": round(r.connect_s, 1),
        "drained": r.drained,
        "drain_s": round(r.drain_s, 1),
        "reconnects": r.totals.get("reconnects", 0),
        "duplicates": r.totals.get("duplicate", 0),
        "rejected": r.totals.get("rejected", 0),
        "max_generator_tick_late_s": round(r.totals.get("max_tick_late_s", 0.0), 3),
        "expected_rows": r.expected_rows,
        "db_rows": r.db_rows,
        "zero_loss": r.loss_free,
        "loss_check": r.loss_verdict,
        "held_rows": r.held_rows,
        "collector_exit": r.collector_exit,
        "errors": r.errors,
    }
    if r.raw is not None:
        out["raw_copy_rows"] = r.raw.rows_total
        out["raw_copy_transactions"] = r.raw.transactions
        out["raw_copy_rows_per_s"] = round(r.raw.rows_per_second)
        out["ratio_collector_over_raw"] = round(r.committed_rows_per_s / r.raw.rows_per_second, 3)
        mrows = r.raw.rows_total / 1e6
        out["raw_copy_client_cpu_s_per_mrows"] = round(r.raw_cpu.get("collector", 0.0) / mrows, 1)
        out["raw_copy_pg_cpu_s_per_mrows"] = round(
            (r.raw_cpu.get("postgres_bench", 0.0) + r.raw_cpu.get("postgres_other", 0.0)) / mrows, 1
        )
    out["sustained"] = bool(
        out["committed_over_offered"] >= 0.95 and out["lag_newest_p99_s"] <= GOAL_P99_LAG_S and r.loss_free
    )
    return out


def _verdict(ok: bool) -> str:
    return "meets goal" if ok else "MISSES goal"


def print_report(s: dict[str, Any]) -> None:
    collectors = f", {s['collectors']} collector processes" if s.get("collectors", 1) > 1 else ""
    print(
        f"\n=== collector load: {s['agents']} agents, {s['batch_snapshots']} snapshots/batch{collectors},"
        f" wire {s.get('wire', 'single')} ==="
    )
    print(f"steady window          {s['window_s']} s (after warmup); agents connected in {s['connect_s']} s")
    print(
        f"rows/s committed       {s['committed_rows_per_s']:,} of {s['offered_rows_per_s']:,} offered"
        f" ({100 * s['committed_over_offered']:.1f}%)  [collector tidewatch_collector_rows_total]"
    )
    print(
        f"ingest lag (agent)     p50 {s['lag_newest_p50_s']} s  p99 {s['lag_newest_p99_s']} s"
        f"  max {s['lag_newest_max_s']} s  ({_verdict(s['lag_newest_p99_s'] <= GOAL_P99_LAG_S)}"
        f" p99 <= {GOAL_P99_LAG_S} s; ack receipt - newest sample, {s['lag_batches']:,} batches)"
    )
    print(f"  Docker batches only  p99 {s['lag_docker_p99_s']} s")
    print(
        f"  from oldest sample   p50 {s['lag_oldest_p50_s']} s  p99 {s['lag_oldest_p99_s']} s"
        "  (includes the agent's own batching hold)"
    )
    print(
        f"  collector histogram  p50 {s['collector_hist_lag_p50_s']} s  p99 {s['collector_hist_lag_p99_s']} s"
        "  (earliest sample -> commit, coarse buckets)"
    )
    print(
        f"flushes                {s['flushes_per_s']}/s, {s['rows_per_transaction']:,} rows each,"
        f" {s['flush_seconds_mean']} s mean"
    )
    if s.get("batches_per_s") is not None:
        print(
            f"batches                {s['batches_per_s']}/s acknowledged; {s['bundles_per_s']}/s bundles received"
        )
    print(f"CPU collector          {s['cpu_collector_s']} s = {s['cpu_collector_pct']}% of one core")
    print(
        f"CPU PostgreSQL         {s['cpu_postgres_all_s']} s = {s['cpu_postgres_all_pct']}% of one core"
        f" (bench-DB backends {s['cpu_postgres_bench_s']} s; rest: WAL writer, checkpointer, other DBs)"
    )
    print(f"CPU generators         {s['cpu_generators_pct']}%; whole machine {s['cpu_machine_pct']}% of 200%")
    print(
        f"  without generators   collector + PostgreSQL {s['cpu_system_pct']}% of 200%"
        " (the system under test, were the simulated fleet elsewhere)"
    )
    print(
        f"CPU per million rows   collector {s['collector_cpu_s_per_mrows']} s, PostgreSQL {s['pg_cpu_s_per_mrows']} s,"
        f" generators {s['generators_cpu_s_per_mrows']} s"
    )
    print(
        f"rollup maintenance     {len(s['maintenance_runs_s'])} runs, seconds each: {s['maintenance_runs_s']}"
    )
    print(
        f"delivery               reconnects {s['reconnects']}, duplicates {s['duplicates']},"
        f" rejected {s['rejected']}, acks drained in {s['drain_s']} s ({'yes' if s['drained'] else 'NO'})"
    )
    if s["errors"]:
        print(f"stream errors          {s['errors']}")
    print(f"zero-loss check        {s['loss_check']}")
    for table, expected in s["expected_rows"].items():
        got = s["db_rows"].get(table, 0)
        held = s["held_rows"].get(table, 0)
        print(
            f"  {table:<22} db {got:>10,}  generated {expected:>10,}  {'ok' if got == expected else 'MISMATCH'}"
            + (f"  (held by agents {held:,})" if held else "")
        )
    if "raw_copy_rows_per_s" in s:
        print(
            f"raw binary COPY        {s['raw_copy_rows_per_s']:,} rows/s ({s['raw_copy_rows']:,} rows in"
            f" {s['raw_copy_transactions']:,} transactions); CPU per million rows: psycopg client"
            f" {s['raw_copy_client_cpu_s_per_mrows']} s, PostgreSQL {s['raw_copy_pg_cpu_s_per_mrows']} s"
        )
        print(
            f"collector / raw COPY   {s['ratio_collector_over_raw']}  ({_verdict(s['ratio_collector_over_raw'] >= GOAL_RATIO)}"
            f" >= {GOAL_RATIO})"
        )
    print(
        f"sustained              {'yes' if s['sustained'] else 'NO'} (>= 95% committed, p99 <= 2 s, no loss)"
    )


def print_sweep(rows: list[dict[str, Any]]) -> None:
    print("\n=== sweep ===")
    print(
        " agents  offered/s  committed/s   lag p50   lag p99  collector CPU  PG CPU  machine   loss check  sustained"
    )
    for s in rows:
        print(
            f" {s['agents']:>6}  {s['offered_rows_per_s']:>9,}  {s['committed_rows_per_s']:>11,}"
            f"  {s['lag_newest_p50_s']:>7.2f}s  {s['lag_newest_p99_s']:>7.2f}s"
            f"  {s['cpu_collector_pct']:>12.0f}%  {s['cpu_postgres_all_pct']:>5.0f}%  {s['cpu_machine_pct']:>6.0f}%"
            f"  {s['loss_check'].split(' ')[0]:>11}  {'yes' if s['sustained'] else 'NO'}"
        )
    sustained = [s["agents"] for s in rows if s["sustained"]]
    print(f"max sustained: {max(sustained) if sustained else 'none'} agents")


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # A shell starting us in the background may have set SIGINT to "ignore": take Ctrl-C back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    server_dsn = local_server_dsn()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="tidewatch-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    counts = [int(n) for n in args.sweep.split(",") if n.strip()] or [args.agents]
    tokens: list[IssuedToken] = []
    summaries: list[dict[str, Any]] = []
    try:
        agents = counts[0]
        while True:
            if len(tokens) < agents:
                print(f"{time.strftime('%H:%M:%S')}: issuing {agents - len(tokens)} agent tokens (argon2)…")
                tokens += issue_tokens(agents - len(tokens))
                print(f"tokens ready; logs in {log_dir}", flush=True)
            raw = not args.sweep and not args.no_raw_copy and not summaries  # once, in the first run
            config = _config(args, agents, raw, log_dir)
            result = run_load(config, server_dsn, tokens, say=lambda line: print(line, flush=True))
            summary = summarise(result)
            summary["progress"] = result.progress
            summaries.append(summary)
            print_report(summary)
            if args.saturate:
                if saturated(summary) or next_fleet(agents, args.step) > args.max_agents:
                    break
                agents = next_fleet(agents, args.step)
            elif len(summaries) < len(counts):
                agents = counts[len(summaries)]
            else:
                break
    except KeyboardInterrupt:
        print("\ninterrupted: generators, collector and bench databases cleaned up", file=sys.stderr)
        return 130
    finally:
        if args.json is not None and summaries:
            args.json.write_text(json.dumps(summaries, indent=2, default=str))
    if args.saturate:
        print_saturation(summaries)
    elif len(summaries) > 1:
        print_sweep(summaries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
