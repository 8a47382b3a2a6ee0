"""The metric tables, described once: columns, types, units, bounds, rollups, series.

Pure, with no server dependencies, so the collector and the API both import it.
From each :class:`MetricTable` come:

- the collector's conversion (``collector.rows`` builds one row function per
  table from ``source`` when it loads) and its value rules (``check``);
- the COPY column list and binary types (``copy_sql``, ``pg_types``);
- the 1-minute rollup's aggregate list (``rollup_aggregates``), which must equal
  ``rollup_definitions.aggregates`` in the database (the rollups themselves are
  built in SQL from that table by the hand-written migrations);
- the API's series queries and response Structs (``outputs``, ``series_key``).

Migrations stay hand-written: ``tests/integration/test_metric_registry.py``
checks this module against ``information_schema`` of a freshly migrated
database and against the proto, column by column, with types.

Adding a host metric: a proto field, one migration, one :class:`Column` here
(see docs/metrics-registry.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "BIGINT_MAX",
    "CONTAINER",
    "DISK",
    "DISK_IO",
    "FLOAT_MAX",
    "GENERIC",
    "HOST",
    "INT_MAX",
    "METRIC_TABLES",
    "NETWORK",
    "TEMPERATURE",
    "Agg",
    "Check",
    "Column",
    "MetricTable",
    "Output",
]

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
# Far above any real rate or load, and far enough below float8's limit that the
# rollups' avg() (which also sums squares) cannot overflow on any bucket.
FLOAT_MAX = 1e18


class Check(Enum):
    """What a value must satisfy before it is stored; each implies one column type."""

    TIME = "time"
    ID = "id"
    FLOAT = "finite number"
    FLOAT_NONNEG = "non-negative number up to 1e18"
    PERCENT = "percentage between 0 and 100"
    BIGINT_NONNEG = "non-negative integer below 2^63"
    INT_NONNEG = "non-negative integer below 2^31"
    NAME = "text of at most 256 characters"
    PATH = "text of at most 4096 characters"
    PERCENT_ARRAY = "list of percentages between 0 and 100"
    JSON = "labels object"


_PG_TYPES = {
    Check.TIME: "timestamptz",
    Check.ID: "int8",
    Check.FLOAT: "float8",
    Check.FLOAT_NONNEG: "float8",
    Check.PERCENT: "float8",
    Check.BIGINT_NONNEG: "int8",
    Check.INT_NONNEG: "int4",
    Check.NAME: "text",
    Check.PATH: "text",
    Check.PERCENT_ARRAY: "float8[]",
    Check.JSON: "jsonb",
}


class Agg(Enum):
    """How samples combine into a bucket; the value is the rollup column's suffix."""

    AVG = "avg"
    MAX = "max"
    MIN = "min"
    LAST = "last"
    SUM = "sum"


@dataclass(frozen=True, slots=True)
class Column:
    """One stored column.

    ``source``: the proto field it is read from; ``""`` means the same name,
    ``None`` that the collector sets or derives it (time, vps_id, labels).
    ``rollup``: the aggregates the 1-minute rollup keeps, in order, each as
    ``<rollup_name or name>_<agg>``; empty when the column is not rolled up
    (its API output is then computed from raw rows only, null at 1m and 1h).
    """

    name: str
    check: Check
    unit: str = ""
    source: str | None = ""
    rollup: tuple[Agg, ...] = ()
    rollup_name: str = ""

    @property
    def pg_type(self) -> str:
        return _PG_TYPES[self.check]

    @property
    def proto_field(self) -> str | None:
        return self.name if self.source == "" else self.source

    @property
    def is_array(self) -> bool:
        return self.check is Check.PERCENT_ARRAY

    def rollup_column(self, agg: Agg) -> str:
        return f"{self.rollup_name or self.name}_{agg.value}"


@dataclass(frozen=True, slots=True)
class Output:
    """One array of an API series: ``name`` computed from ``column`` with ``agg``."""

    name: str
    column: str
    agg: Agg


@dataclass(frozen=True, slots=True)
class MetricTable:
    """A raw hypertable. Column order is the row tuple order and the table's column order."""

    name: str
    columns: tuple[Column, ...]
    # The proto message one row is read from (None: no proto agreement to check).
    proto: str | None = None
    # The column that splits a VPS's rows into series (interface, mount, ...).
    series_key: str | None = None
    outputs: tuple[Output, ...] = ()

    @property
    def copy_sql(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"COPY {self.name} ({names}) FROM STDIN (FORMAT BINARY)"

    @property
    def pg_types(self) -> list[str]:
        return [c.pg_type for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def rollup_aggregates(self) -> str:
        """The 1-minute rollup's select list, as ``rollup_definitions.aggregates`` holds it."""
        items = [
            f"last({c.name}, time) AS {c.rollup_column(a)}"
            if a is Agg.LAST
            else f"{a.value}({c.name}) AS {c.rollup_column(a)}"
            for c in self.columns
            for a in c.rollup
        ]
        return ",\n".join([*items, "count(*) AS sample_count"]) if items else ""


def _table(
    name: str,
    *columns: Column,
    proto: str | None = None,
    series_key: str | None = None,
    outputs: tuple[Output, ...] = (),
) -> MetricTable:
    head = (Column("time", Check.TIME, source=None), Column("vps_id", Check.ID, source=None))
    table = MetricTable(name, head + columns, proto, series_key, outputs)
    for o in outputs:  # a rolled-up column's output must use an aggregate its rollup keeps
        rollup = table.column(o.column).rollup
        if rollup and o.agg not in rollup:
            raise ValueError(f"{name}.{o.name}: {o.column} has no {o.agg.value} rollup")
    return table


C = Column
A, X, N, L, S = Agg.AVG, Agg.MAX, Agg.MIN, Agg.LAST, Agg.SUM
PCT, FNN, BIG, INT = Check.PERCENT, Check.FLOAT_NONNEG, Check.BIGINT_NONNEG, Check.INT_NONNEG

HOST = _table(
    "host_metrics",
    C("cpu_percent", PCT, "%", rollup=(A, X, N)),
    C("cpu_per_core_percent", Check.PERCENT_ARRAY, "%"),
    C("cpu_user_percent", PCT, "%", rollup=(A,)),
    C("cpu_system_percent", PCT, "%", rollup=(A,)),
    C("cpu_iowait_percent", PCT, "%", rollup=(A,)),
    C("cpu_steal_percent", PCT, "%", rollup=(A,)),
    C("load_1", FNN, "runnable tasks", rollup=(A, X)),
    C("load_5", FNN, "runnable tasks", rollup=(A,)),
    C("load_15", FNN, "runnable tasks", rollup=(A,)),
    C("memory_total_bytes", BIG, "bytes", rollup=(L,)),
    C("memory_used_bytes", BIG, "bytes", rollup=(A, X)),
    C("memory_available_bytes", BIG, "bytes", rollup=(N,)),
    C("memory_cached_bytes", BIG, "bytes", rollup=(A,)),
    C("memory_buffers_bytes", BIG, "bytes"),
    C("swap_total_bytes", BIG, "bytes", rollup=(L,)),
    C("swap_used_bytes", BIG, "bytes", rollup=(A, X)),
    C("tcp_connections", INT, "connections", rollup=(A, X)),
    C("udp_connections", INT, "sockets", rollup=(A,)),
    C("process_count", INT, "processes", rollup=(A,)),
    C("uptime_seconds", BIG, "s", rollup=(L,)),
    # Not rolled up (sql/0011): the API has it at raw resolution, nulls at 1m and 1h.
    C("memory_shared_bytes", BIG, "bytes"),
    proto="PerformanceSnapshot",
    outputs=(
        Output("cpu_percent", "cpu_percent", A),
        Output("cpu_percent_max", "cpu_percent", X),
        Output("cpu_user_percent", "cpu_user_percent", A),
        Output("cpu_system_percent", "cpu_system_percent", A),
        Output("cpu_iowait_percent", "cpu_iowait_percent", A),
        Output("cpu_steal_percent", "cpu_steal_percent", A),
        Output("load_1", "load_1", A),
        Output("load_5", "load_5", A),
        Output("load_15", "load_15", A),
        Output("memory_total_bytes", "memory_total_bytes", L),
        Output("memory_used_bytes", "memory_used_bytes", A),
        Output("memory_available_bytes", "memory_available_bytes", N),
        Output("memory_cached_bytes", "memory_cached_bytes", A),
        Output("swap_total_bytes", "swap_total_bytes", L),
        Output("swap_used_bytes", "swap_used_bytes", A),
        Output("tcp_connections", "tcp_connections", A),
        Output("udp_connections", "udp_connections", A),
        Output("process_count", "process_count", A),
        Output("uptime_seconds", "uptime_seconds", L),
        Output("memory_shared_bytes", "memory_shared_bytes", A),
    ),
)
DISK = _table(
    "disk_metrics",
    C("mountpoint", Check.PATH),
    C("device", Check.PATH, rollup=(L,)),
    C("fstype", Check.PATH),
    C("total_bytes", BIG, "bytes", rollup=(L,)),
    C("used_bytes", BIG, "bytes", rollup=(A, X, L)),
    C("free_bytes", BIG, "bytes"),
    C("inodes_total", BIG, "inodes", rollup=(L,)),
    C("inodes_used", BIG, "inodes", rollup=(L,)),
    proto="DiskUsage",
    series_key="mountpoint",
    outputs=(
        Output("used_bytes", "used_bytes", L),
        Output("total_bytes", "total_bytes", L),
        Output("inodes_used", "inodes_used", L),
        Output("inodes_total", "inodes_total", L),
    ),
)
DISK_IO = _table(
    "disk_io_metrics",
    C("device", Check.NAME),
    C("read_bytes_per_second", FNN, "bytes/s", rollup=(A, X)),
    C("write_bytes_per_second", FNN, "bytes/s", rollup=(A, X)),
    C("read_ops_per_second", FNN, "ops/s", rollup=(A,)),
    C("write_ops_per_second", FNN, "ops/s", rollup=(A,)),
    proto="DiskIoStats",
    series_key="device",
    outputs=(
        Output("read_bytes_per_second", "read_bytes_per_second", A),
        Output("write_bytes_per_second", "write_bytes_per_second", A),
        Output("read_bytes_per_second_max", "read_bytes_per_second", X),
        Output("write_bytes_per_second_max", "write_bytes_per_second", X),
        Output("read_ops_per_second", "read_ops_per_second", A),
        Output("write_ops_per_second", "write_ops_per_second", A),
    ),
)
NETWORK = _table(
    "network_metrics",
    C("interface", Check.NAME),
    C("rx_bytes_per_second", FNN, "bytes/s", rollup=(A, X)),
    C("tx_bytes_per_second", FNN, "bytes/s", rollup=(A, X)),
    C("rx_packets_per_second", FNN, "packets/s", rollup=(A,)),
    C("tx_packets_per_second", FNN, "packets/s", rollup=(A,)),
    C("rx_errors", BIG, "errors", rollup=(S,)),
    C("tx_errors", BIG, "errors", rollup=(S,)),
    C("rx_drops", BIG, "packets", rollup=(S,)),
    C("tx_drops", BIG, "packets", rollup=(S,)),
    # Reset-aware bytes since the previous sample: summed for traffic totals.
    C("rx_bytes_delta", BIG, "bytes", rollup=(S,), rollup_name="rx_bytes"),
    C("tx_bytes_delta", BIG, "bytes", rollup=(S,), rollup_name="tx_bytes"),
    proto="NetworkInterfaceStats",
    series_key="interface",
    outputs=(
        Output("rx_bytes_per_second", "rx_bytes_per_second", A),
        Output("tx_bytes_per_second", "tx_bytes_per_second", A),
        Output("rx_bytes_per_second_max", "rx_bytes_per_second", X),
        Output("tx_bytes_per_second_max", "tx_bytes_per_second", X),
        Output("rx_bytes", "rx_bytes_delta", S),
        Output("tx_bytes", "tx_bytes_delta", S),
    ),
)
TEMPERATURE = _table(
    "temperature_metrics",
    C("sensor", Check.NAME),
    C("celsius", Check.FLOAT, "°C"),
    proto="TemperatureReading",
    series_key="sensor",
    # No rollup: the API reads raw rows at any range (kept as long as raw retention).
    outputs=(Output("celsius", "celsius", A), Output("celsius_max", "celsius", X)),
)
CONTAINER = _table(
    "container_metrics",
    C("container_id", Check.NAME),
    C("cpu_percent", FNN, "% of one core", rollup=(A, X)),
    C("memory_usage_bytes", BIG, "bytes", rollup=(A, X)),
    C("memory_limit_bytes", BIG, "bytes", rollup=(L,)),
    C("network_rx_bytes", BIG, "bytes", rollup=(L,)),
    C("network_tx_bytes", BIG, "bytes", rollup=(L,)),
    C("block_read_bytes", BIG, "bytes", rollup=(L,)),
    C("block_write_bytes", BIG, "bytes", rollup=(L,)),
    C("pids", INT, "processes", rollup=(X,)),
    proto="DockerContainerInfo",
    series_key="container_id",
    outputs=(
        Output("cpu_percent", "cpu_percent", A),
        Output("cpu_percent_max", "cpu_percent", X),
        Output("memory_usage_bytes", "memory_usage_bytes", A),
        Output("memory_usage_bytes_max", "memory_usage_bytes", X),
        Output("memory_limit_bytes", "memory_limit_bytes", L),
        Output("pids", "pids", X),
    ),
)
# Labels arrive as a map and are stored as JSON: the collector derives that column.
GENERIC = _table(
    "generic_metrics",
    C("name", Check.NAME),
    C("labels", Check.JSON, source=None),
    C("value", Check.FLOAT),
    proto="GenericMetric",
)

METRIC_TABLES: dict[str, MetricTable] = {
    t.name: t for t in (HOST, DISK, DISK_IO, NETWORK, TEMPERATURE, CONTAINER, GENERIC)
}
