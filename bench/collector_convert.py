"""Micro-benchmark of the collector's per-batch CPU: conversion, validation, container metadata.

    .venv/bin/python -m bench.collector_convert                  # all parts
    .venv/bin/python -m bench.collector_convert --no-db          # conversion only
    .venv/bin/python -m bench.collector_convert --batches 500 --vps 100 --rounds 12

Converts realistic batches from ``tests.factories`` (a performance batch of 5
snapshots, a Docker batch of 10 containers) through ``collector.rows.convert_batch``,
times ``check_row`` alone over the same rows, times the frozen positional
conversion from before the metric registry (``tests/frozen_rows.py``) on the
same batches in alternating passes and prints the ratio, and times ``write_containers``
against a fresh local database with Docker samples whose containers do not
change, one flush of ``--vps`` samples per round, 5 s of sample time apart (so
every 12th round is due a ``last_seen`` refresh and a reload of the cached
state, as in the collector's ingest writer). Prints µs per batch (best of
``--repeat``). A benchmark, not a test: nothing is asserted. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.fleet import create_bench_database, drop_bench_database
from collector.containers import ContainerCache, write_containers
from collector.row_checks import rows_ok
from collector.rows import ContainerState, TimeRules, checked_convert_batch, convert_batch
from collector.tables import TABLES
from collector.validation import check_row
from tests import frozen_rows
from tests.factories import docker_batch, now_ms, performance_batch

__all__ = ["main"]

DOCKER_EVERY = timedelta(seconds=5)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.collector_convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=1000, help="distinct batches of each kind")
    p.add_argument("--repeat", type=int, default=5, help="timed passes; the best is shown")
    p.add_argument("--vps", type=int, default=200, help="Docker samples per flush (one per VPS)")
    p.add_argument("--rounds", type=int, default=24, help="timed flushes of unchanged containers")
    p.add_argument("--no-db", action="store_true", help="skip write_containers")
    return p.parse_args(argv)


def _best_us(work: Callable[[], None], per: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best / per * 1e6


def bench_conversion(batches: int, repeat: int) -> dict[str, float]:
    """µs per batch: convert_batch for each kind, and check_row alone over the same rows."""
    t0 = now_ms() - batches * 5000 - 60_000
    rules = TimeRules(now_ms=now_ms(), max_future_ms=300_000, max_age_ms=7 * 86_400_000)
    perf = [performance_batch(i + 1, [t0 + i * 5000 + k * 1000 for k in range(5)]) for i in range(batches)]
    docker = [docker_batch(i + 1, t0 + i * 5000, containers=10) for i in range(batches)]
    rows = [
        (TABLES[name], row)
        for batch in perf
        for name, table_rows in convert_batch("performance_batch", batch, 1, rules).rows.items()
        for row in table_rows
    ]

    def convert_perf() -> None:
        for batch in perf:
            convert_batch("performance_batch", batch, 1, rules)

    def convert_docker() -> None:
        for batch in docker:
            convert_batch("docker_batch", batch, 1, rules)

    def check_rows() -> None:
        for table, row in rows:
            check_row(table, row, "snapshots[0]")

    def checked_perf() -> None:
        for batch in perf:
            checked_convert_batch("performance_batch", batch, 1, rules)

    def checked_docker() -> None:
        for batch in docker:
            checked_convert_batch("docker_batch", batch, 1, rules)

    converted = [convert_batch("performance_batch", batch, 1, rules).rows for batch in perf]

    def check_batches() -> None:
        for tables_rows in converted:
            for name, table_rows in tables_rows.items():
                rows_ok(TABLES[name], table_rows)

    def frozen_perf() -> None:
        for batch in perf:
            frozen_rows.convert_batch("performance_batch", batch, 1, rules)

    def frozen_docker() -> None:
        for batch in docker:
            frozen_rows.convert_batch("docker_batch", batch, 1, rules)

    # Registry-built and frozen positional conversion, timed in alternating passes.
    perf_new, perf_old = _best_pair(convert_perf, frozen_perf, batches, repeat)
    docker_new, docker_old = _best_pair(convert_docker, frozen_docker, batches, repeat)
    # The fast path (convert_batch) beside the checked item-by-item conversion it falls back to.
    perf_fast, perf_checked = _best_pair(convert_perf, checked_perf, batches, repeat)
    docker_fast, docker_checked = _best_pair(convert_docker, checked_docker, batches, repeat)
    return {
        "convert performance batch (5 snapshots)": perf_new,
        "  checked item-by-item conversion (performance)": perf_checked,
        "  fast ÷ checked (performance, ratio)": perf_fast / perf_checked,
        "  of which batch row checks (fast path)": _best_us(check_batches, batches, repeat),
        "  check_row per row (checked path)": _best_us(check_rows, batches, repeat),
        "  frozen positional conversion (performance)": perf_old,
        "  registry ÷ frozen (performance, ratio)": perf_new / perf_old,
        "convert docker batch (10 containers)": docker_new,
        "  checked item-by-item conversion (docker)": docker_checked,
        "  fast ÷ checked (docker, ratio)": docker_fast / docker_checked,
        "  frozen positional conversion (docker)": docker_old,
        "  registry ÷ frozen (docker, ratio)": docker_new / docker_old,
    }


def _best_pair(a: Callable[[], None], b: Callable[[], None], per: int, repeat: int) -> tuple[float, float]:
    best_a = best_b = float("inf")
    for _ in range(repeat):
        best_a = min(best_a, _best_us(a, per, 1))
        best_b = min(best_b, _best_us(b, per, 1))
    return best_a, best_b


def _docker_samples(
    vps_ids: list[int], seen_at: datetime
) -> list[tuple[int, datetime, list[ContainerState]]]:
    rules = TimeRules(now_ms=now_ms(), max_future_ms=300_000, max_age_ms=7 * 86_400_000)
    ms = int(seen_at.timestamp() * 1000)
    converted = convert_batch("docker_batch", docker_batch(1, ms, containers=10), 0, rules)
    assert converted.containers is not None
    # The factory derives created/started from the sample time: pin them, so nothing changes.
    return [(vps_id, seen_at, converted.containers) for vps_id in vps_ids]


async def _write_rounds(dsn: str, vps: int, rounds: int) -> list[float]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash)"
            " SELECT 'bench-' || i, '127.0.0.1', 'k' || i, 'x' FROM generate_series(1, %s) AS i RETURNING id",
            (vps,),
        )
        vps_ids = [int(r[0]) for r in await cur.fetchall()]
        await conn.commit()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        samples = _docker_samples(vps_ids, start)
        # The cache's clock follows sample time, so entries expire as they would in a real minute.
        clock = [0.0]
        cache = ContainerCache(clock=lambda: clock[0])
        elapsed: list[float] = []
        for round_ in range(rounds + 1):  # round 0 inserts the containers: not timed
            seen_at = start + round_ * DOCKER_EVERY
            clock[0] = (seen_at - start).total_seconds()
            flush = [(vps_id, seen_at, containers) for vps_id, _, containers in samples]
            started = time.perf_counter()
            async with cache.claim(vps_ids) as claim, conn.transaction():
                claim.written = await write_containers(conn.cursor(), flush, claim.cached)
            if round_:
                elapsed.append(time.perf_counter() - started)
    return elapsed


def bench_write_containers(vps: int, rounds: int) -> dict[str, float]:
    """µs per Docker sample of unchanged containers, per flush of ``vps`` samples."""
    dsn = create_bench_database()
    try:
        elapsed = asyncio.run(_write_rounds(dsn, vps, rounds))
    finally:
        drop_bench_database(dsn)
    per_sample = [e / vps * 1e6 for e in elapsed]
    return {
        "write_containers, unchanged, mean": statistics.fmean(per_sample),
        "write_containers, unchanged, median": statistics.median(per_sample),
    }


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    figures: dict[str, Any] = bench_conversion(args.batches, args.repeat)
    if not args.no_db:
        figures.update(bench_write_containers(args.vps, args.rounds))
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        if name.endswith("ratio)"):
            print(f"{name:<{width}}  {value:8.2f}")
        else:
            print(f"{name:<{width}}  {value:8.1f} µs per batch")


if __name__ == "__main__":
    main()
