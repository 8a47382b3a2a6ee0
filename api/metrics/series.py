"""What each metrics endpoint returns, and the SQL that computes it.

A :class:`SeriesSpec` names a raw hypertable, the column that splits it into
series (interface, mount, ...) and the output fields with their aggregate.
From it come both queries: raw samples bucketed on the fly, and rollup rows
re-bucketed to the step. Identifiers come only from these specs, never from
the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from psycopg import sql

from api.metrics.resolution import TIER_WIDTHS, Plan

__all__ = [
    "CONTAINERS",
    "DISKIO",
    "DISKS",
    "HOST",
    "NETWORK",
    "Agg",
    "Field",
    "SeriesSpec",
    "build_query",
    "query_params",
    "to_columns",
]


class Agg(Enum):
    """How a field combines samples, and its rollup column's suffix."""

    AVG = "avg"
    MAX = "max"
    MIN = "min"
    LAST = "last"
    SUM = "sum"


@dataclass(frozen=True, slots=True)
class Field:
    """An output array: ``name`` computed from raw ``column`` with ``agg``."""

    name: str
    column: str
    agg: Agg
    rollup: str = ""

    @property
    def rollup_column(self) -> str:
        return self.rollup or f"{self.column}_{self.agg.value}"


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """One endpoint's data: table, series key and fields."""

    table: str
    series_key: str | None
    fields: tuple[Field, ...]


def _fields(*items: tuple[str, str, Agg] | tuple[str, str, Agg, str]) -> tuple[Field, ...]:
    return tuple(Field(*item) for item in items)


A, X, N, L, S = Agg.AVG, Agg.MAX, Agg.MIN, Agg.LAST, Agg.SUM
HOST = SeriesSpec("host_metrics", None, _fields(
    ("cpu_percent", "cpu_percent", A), ("cpu_percent_max", "cpu_percent", X),
    ("cpu_user_percent", "cpu_user_percent", A), ("cpu_system_percent", "cpu_system_percent", A),
    ("cpu_iowait_percent", "cpu_iowait_percent", A), ("cpu_steal_percent", "cpu_steal_percent", A),
    ("load_1", "load_1", A), ("load_5", "load_5", A), ("load_15", "load_15", A),
    ("memory_total_bytes", "memory_total_bytes", L), ("memory_used_bytes", "memory_used_bytes", A),
    ("memory_available_bytes", "memory_available_bytes", N),
    ("memory_cached_bytes", "memory_cached_bytes", A),
    ("swap_total_bytes", "swap_total_bytes", L), ("swap_used_bytes", "swap_used_bytes", A),
    ("tcp_connections", "tcp_connections", A), ("udp_connections", "udp_connections", A),
    ("process_count", "process_count", A), ("uptime_seconds", "uptime_seconds", L),
))  # fmt: skip
NETWORK = SeriesSpec("network_metrics", "interface", _fields(
    ("rx_bytes_per_second", "rx_bytes_per_second", A), ("tx_bytes_per_second", "tx_bytes_per_second", A),
    ("rx_bytes_per_second_max", "rx_bytes_per_second", X),
    ("tx_bytes_per_second_max", "tx_bytes_per_second", X),
    ("rx_bytes", "rx_bytes_delta", S, "rx_bytes_sum"), ("tx_bytes", "tx_bytes_delta", S, "tx_bytes_sum"),
))  # fmt: skip
DISKS = SeriesSpec("disk_metrics", "mountpoint", _fields(
    ("used_bytes", "used_bytes", L), ("total_bytes", "total_bytes", L),
    ("inodes_used", "inodes_used", L), ("inodes_total", "inodes_total", L),
))  # fmt: skip
DISKIO = SeriesSpec("disk_io_metrics", "device", _fields(
    ("read_bytes_per_second", "read_bytes_per_second", A),
    ("write_bytes_per_second", "write_bytes_per_second", A),
    ("read_bytes_per_second_max", "read_bytes_per_second", X),
    ("write_bytes_per_second_max", "write_bytes_per_second", X),
    ("read_ops_per_second", "read_ops_per_second", A), ("write_ops_per_second", "write_ops_per_second", A),
))  # fmt: skip
CONTAINERS = SeriesSpec("container_metrics", "container_id", _fields(
    ("cpu_percent", "cpu_percent", A), ("cpu_percent_max", "cpu_percent", X),
    ("memory_usage_bytes", "memory_usage_bytes", A),
    ("memory_usage_bytes_max", "memory_usage_bytes", X),
    ("memory_limit_bytes", "memory_limit_bytes", L), ("pids", "pids", X),
))  # fmt: skip

_DOUBLE = sql.SQL("::double precision")


def _raw_agg(f: Field) -> sql.Composable:
    col = sql.Identifier(f.column)
    if f.agg is Agg.LAST:
        return sql.SQL("last({}, time)").format(col)
    return sql.SQL("{}({})").format(sql.SQL(f.agg.value), col)


def _rollup_agg(f: Field) -> sql.Composable:
    col = sql.Identifier(f.rollup_column)
    if f.agg is Agg.AVG:
        # Weighted by samples, so re-bucketing averages stays exact.
        return sql.SQL("sum({} * sample_count) / nullif(sum(sample_count), 0)").format(col)
    if f.agg is Agg.LAST:
        return sql.SQL("last({}, bucket)").format(col)
    return sql.SQL("{}({})").format(sql.SQL(f.agg.value), col)


def build_query(spec: SeriesSpec, plan: Plan, *, live_rollups: bool) -> sql.Composed:
    """The query for ``spec`` under ``plan``; parameters ``vps_id``, ``start``, ``end``, ``step``.

    ``live_rollups``: the rollup is a real-time continuous aggregate (Community
    edition). Otherwise buckets past the rollup's watermark come from raw rows.
    """
    key = sql.SQL(", {}").format(sql.Identifier(spec.series_key)) if spec.series_key else sql.SQL("")
    series = (
        sql.SQL(", {} AS series").format(sql.Identifier(spec.series_key)) if spec.series_key else sql.SQL("")
    )
    order = sql.SQL("series, ") if spec.series_key else sql.SQL("")
    if plan.resolution == "raw":
        outputs = sql.SQL(", ").join(
            sql.SQL("{}{} AS {}").format(_raw_agg(f), _DOUBLE, sql.Identifier(f.name)) for f in spec.fields
        )
        return sql.SQL(
            "SELECT time_bucket(%(step)s, time) AS bucket{series}, {outputs} FROM {table}"
            " WHERE vps_id = %(vps_id)s AND time >= %(start)s AND time < %(end)s"
            " GROUP BY 1{key} ORDER BY {order}bucket"
        ).format(series=series, outputs=outputs, table=sql.Identifier(spec.table), key=key, order=order)

    rollup = f"{spec.table}_{plan.resolution}"
    columns = list(dict.fromkeys(f.rollup_column for f in spec.fields))
    by_column = {f.rollup_column: f for f in spec.fields}
    stored = sql.SQL(", ").join(sql.Identifier(c) for c in [*columns, "sample_count"])
    computed = sql.SQL(", ").join(
        [sql.SQL("{} AS {}").format(_raw_agg(by_column[c]), sql.Identifier(c)) for c in columns]
        + [sql.SQL("count(*) AS sample_count")]
    )
    outputs = sql.SQL(", ").join(
        sql.SQL("{}{} AS {}").format(_rollup_agg(f), _DOUBLE, sql.Identifier(f.name)) for f in spec.fields
    )
    watermark = (
        sql.SQL("'infinity'::timestamptz")
        if live_rollups
        else sql.SQL(
            "(SELECT coalesce(watermark, '-infinity') FROM rollup_watermarks WHERE name = {})"
        ).format(sql.Literal(rollup))
    )
    return sql.SQL(
        "WITH src AS ("
        " SELECT bucket{key}, {stored} FROM {rollup}"
        "  WHERE vps_id = %(vps_id)s AND bucket >= time_bucket({width}, %(start)s)"
        "  AND bucket < least(%(end)s, {watermark})"
        " UNION ALL"
        " SELECT time_bucket({width}, time) AS bucket{key}, {computed} FROM {table}"
        "  WHERE vps_id = %(vps_id)s AND time >= greatest(time_bucket({width}, %(start)s), {watermark})"
        "  AND time < %(end)s GROUP BY 1{key})"
        " SELECT time_bucket(%(step)s, bucket) AS bucket{series}, {outputs} FROM src"
        " GROUP BY 1{key} ORDER BY {order}bucket"
    ).format(
        key=key,
        stored=stored,
        rollup=sql.Identifier(rollup),
        width=sql.Literal(TIER_WIDTHS[plan.resolution]),
        watermark=watermark,
        computed=computed,
        table=sql.Identifier(spec.table),
        series=series,
        outputs=outputs,
        order=order,
    )


def to_columns(spec: SeriesSpec, rows: list[dict[str, Any]]) -> dict[str | None, dict[str, list[Any]]]:
    """Rows ordered by series then bucket, as one columnar dict per series."""
    out: dict[str | None, dict[str, list[Any]]] = {}
    for row in rows:
        key = row.get("series")
        columns = out.get(key)
        if columns is None:
            columns = out[key] = {"time_ms": [], **{f.name: [] for f in spec.fields}}
        bucket: datetime = row["bucket"]
        columns["time_ms"].append(round(bucket.timestamp() * 1000))
        for f in spec.fields:
            columns[f.name].append(row[f.name])
    return out


def query_params(vps_id: int, start: datetime, end: datetime, step: timedelta) -> dict[str, Any]:
    """Parameters for :func:`build_query`."""
    return {"vps_id": vps_id, "start": start, "end": end, "step": step}
