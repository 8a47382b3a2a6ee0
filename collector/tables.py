"""The raw hypertables the collector writes: columns, COPY types and value rules.

One place describes each table, so the converter, the validator and the COPY
statement cannot drift apart. Column order here is the tuple order of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["TABLES", "Check", "Column", "Table"]

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
# Far above any real rate or load, and far enough below float8's limit that the
# rollups' avg() (which also sums squares) cannot overflow on any bucket.
FLOAT_MAX = 1e18


class Check(Enum):
    """What a value must satisfy before it is stored."""

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


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    check: Check

    @property
    def pg_type(self) -> str:
        return _PG_TYPES[self.check]


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def copy_sql(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"COPY {self.name} ({names}) FROM STDIN (FORMAT BINARY)"

    @property
    def pg_types(self) -> list[str]:
        return [c.pg_type for c in self.columns]


def _table(name: str, *columns: tuple[str, Check]) -> Table:
    head = (Column("time", Check.TIME), Column("vps_id", Check.ID))
    return Table(name, head + tuple(Column(n, c) for n, c in columns))


HOST = _table(
    "host_metrics",
    ("cpu_percent", Check.PERCENT),
    ("cpu_per_core_percent", Check.PERCENT_ARRAY),
    ("cpu_user_percent", Check.PERCENT),
    ("cpu_system_percent", Check.PERCENT),
    ("cpu_iowait_percent", Check.PERCENT),
    ("cpu_steal_percent", Check.PERCENT),
    ("load_1", Check.FLOAT_NONNEG),
    ("load_5", Check.FLOAT_NONNEG),
    ("load_15", Check.FLOAT_NONNEG),
    ("memory_total_bytes", Check.BIGINT_NONNEG),
    ("memory_used_bytes", Check.BIGINT_NONNEG),
    ("memory_available_bytes", Check.BIGINT_NONNEG),
    ("memory_cached_bytes", Check.BIGINT_NONNEG),
    ("memory_buffers_bytes", Check.BIGINT_NONNEG),
    ("swap_total_bytes", Check.BIGINT_NONNEG),
    ("swap_used_bytes", Check.BIGINT_NONNEG),
    ("tcp_connections", Check.INT_NONNEG),
    ("udp_connections", Check.INT_NONNEG),
    ("process_count", Check.INT_NONNEG),
    ("uptime_seconds", Check.BIGINT_NONNEG),
)
DISK = _table(
    "disk_metrics",
    ("mountpoint", Check.PATH),
    ("device", Check.PATH),
    ("fstype", Check.PATH),
    ("total_bytes", Check.BIGINT_NONNEG),
    ("used_bytes", Check.BIGINT_NONNEG),
    ("free_bytes", Check.BIGINT_NONNEG),
    ("inodes_total", Check.BIGINT_NONNEG),
    ("inodes_used", Check.BIGINT_NONNEG),
)
DISK_IO = _table(
    "disk_io_metrics",
    ("device", Check.NAME),
    ("read_bytes_per_second", Check.FLOAT_NONNEG),
    ("write_bytes_per_second", Check.FLOAT_NONNEG),
    ("read_ops_per_second", Check.FLOAT_NONNEG),
    ("write_ops_per_second", Check.FLOAT_NONNEG),
)
NETWORK = _table(
    "network_metrics",
    ("interface", Check.NAME),
    ("rx_bytes_per_second", Check.FLOAT_NONNEG),
    ("tx_bytes_per_second", Check.FLOAT_NONNEG),
    ("rx_packets_per_second", Check.FLOAT_NONNEG),
    ("tx_packets_per_second", Check.FLOAT_NONNEG),
    ("rx_errors", Check.BIGINT_NONNEG),
    ("tx_errors", Check.BIGINT_NONNEG),
    ("rx_drops", Check.BIGINT_NONNEG),
    ("tx_drops", Check.BIGINT_NONNEG),
    ("rx_bytes_delta", Check.BIGINT_NONNEG),
    ("tx_bytes_delta", Check.BIGINT_NONNEG),
)
TEMPERATURE = _table("temperature_metrics", ("sensor", Check.NAME), ("celsius", Check.FLOAT))
CONTAINER = _table(
    "container_metrics",
    ("container_id", Check.NAME),
    ("cpu_percent", Check.FLOAT_NONNEG),
    ("memory_usage_bytes", Check.BIGINT_NONNEG),
    ("memory_limit_bytes", Check.BIGINT_NONNEG),
    ("network_rx_bytes", Check.BIGINT_NONNEG),
    ("network_tx_bytes", Check.BIGINT_NONNEG),
    ("block_read_bytes", Check.BIGINT_NONNEG),
    ("block_write_bytes", Check.BIGINT_NONNEG),
    ("pids", Check.INT_NONNEG),
)
GENERIC = _table("generic_metrics", ("name", Check.NAME), ("labels", Check.JSON), ("value", Check.FLOAT))

TABLES: dict[str, Table] = {
    t.name: t for t in (HOST, DISK, DISK_IO, NETWORK, TEMPERATURE, CONTAINER, GENERIC)
}
