"""The ceiling: the same rows loaded by binary COPY through psycopg, with no gRPC or collector.

The rows come from the same factory templates, converted by the collector's
own pure converter so every column has the exact COPY type. They arrive in
the order a fleet produces them (second by second, agent by agent, Docker
samples spread over five seconds) and are cut into transactions of the size
the collector's flushes had; each transaction COPYs table by table, as
``collector.ingest`` does. Only the transactions are timed: building the row
tuples is not part of what the database can take.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.agent_messages import AgentShape, build_templates
from collector import tables
from collector.rows import TimeRules, convert_batch
from proto import agent_pb2

__all__ = ["CopyPlan", "CopyResult", "raw_copy"]

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """How many samples to load, and the transaction size to cut them into."""

    agents: int
    snapshots: int
    docker_samples: int
    rows_per_transaction: int
    shape: AgentShape
    docker_every_s: int = 5


@dataclass(slots=True)
class CopyResult:
    """Rows loaded per table, and the time spent inside the COPY transactions."""

    rows: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    transaction_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def rows_total(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows_total / self.transaction_seconds if self.transaction_seconds else 0.0


def _row_templates(shape: AgentShape) -> tuple[list[dict[str, list[Row]]], list[Row]]:
    """Per-snapshot rows for each template variant, and one Docker sample's rows."""
    now_ms = int(time.time() * 1000)
    rules = TimeRules(now_ms=now_ms, max_future_ms=60_000, max_age_ms=86_400_000)
    templates = build_templates(shape, now_ms)
    variants = []
    for variant in range(len(templates.snapshot_bodies)):
        message = agent_pb2.MessageToServer.FromString(templates.performance(1, [now_ms], variant))
        variants.append(convert_batch("performance_batch", message.performance_batch, 1, rules).rows)
    docker = agent_pb2.MessageToServer.FromString(templates.docker(1, now_ms))
    container_rows = convert_batch("docker_batch", docker.docker_batch, 1, rules).rows["container_metrics"]
    return variants, container_rows


def _transactions(plan: CopyPlan, start: datetime) -> Iterator[dict[str, list[Row]]]:
    """The fleet's rows in arrival order, cut into transactions of ``rows_per_transaction``."""
    variants, container_rows = _row_templates(plan.shape)
    buffer: dict[str, list[Row]] = {name: [] for name in tables.TABLES}
    buffered = snapshots = docker = 0
    second = 0
    while snapshots < plan.snapshots or docker < plan.docker_samples:
        at = start + timedelta(seconds=second)
        for agent in range(plan.agents):
            vps_id = agent + 1
            if snapshots < plan.snapshots:
                snapshots += 1
                for name, rows in variants[agent % len(variants)].items():
                    buffer[name].extend((at, vps_id, *row[2:]) for row in rows)
                    buffered += len(rows)
            if docker < plan.docker_samples and (second + agent) % plan.docker_every_s == 0:
                docker += 1
                buffer["container_metrics"].extend((at, vps_id, *row[2:]) for row in container_rows)
                buffered += len(container_rows)
            if buffered >= plan.rows_per_transaction:
                yield buffer
                buffer = {name: [] for name in tables.TABLES}
                buffered = 0
        second += 1
    if buffered:
        yield buffer


def raw_copy(dsn: str, plan: CopyPlan, after_transaction: Callable[[], object] | None = None) -> CopyResult:
    """Load ``plan``'s rows into ``dsn``; time only the COPY transactions.

    ``after_transaction`` runs (untimed) after each commit, while the backend is still
    there to be measured.
    """
    result = CopyResult()
    start = datetime.now(UTC) - timedelta(seconds=plan.snapshots // max(plan.agents, 1) + 60)
    wall = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        cur = conn.cursor()
        for batch in _transactions(plan, start):
            started = time.perf_counter()
            with conn.transaction():
                for table in tables.TABLES.values():
                    rows = batch[table.name]
                    if not rows:
                        continue
                    with cur.copy(table.copy_sql) as copy:
                        copy.set_types(table.pg_types)
                        for row in rows:
                            copy.write_row(row)
                    result.rows[table.name] = result.rows.get(table.name, 0) + len(rows)
            result.transaction_seconds += time.perf_counter() - started
            result.transactions += 1
            if after_transaction is not None:
                after_transaction()
    result.wall_seconds = time.perf_counter() - wall
    return result
