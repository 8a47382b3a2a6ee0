"""The shapes of converted batches and the registry-built row functions. Pure: no I/O.

Shared by the checked conversion (``collector.rows``) and its fast path
(``collector.rows_fast``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from collector import tables
from collector.validation import check_row
from proto import agent_pb2

__all__ = ["ContainerState", "ConvertedBatch", "Row", "RowBuilder", "live_summary", "row_builder"]

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ContainerState:
    """Container metadata from a Docker batch, for the ``containers`` table."""

    container_id: str
    name: str
    image: str
    state: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    restart_count: int
    exit_code: int | None
    oom_killed: bool
    labels_json: str
    ports: list[str]


@dataclass(slots=True)
class ConvertedBatch:
    kind: str
    sequence: int
    batch_time: datetime
    rows: dict[str, list[Row]] = field(default_factory=dict)
    containers: list[ContainerState] | None = None
    docker_time: datetime | None = None
    live: dict[str, Any] | None = None
    # The identity for deduplication when it differs from batch_time (see TimeRules).
    identity_time: datetime | None = None

    @property
    def dedup_time(self) -> datetime:
        """The time in the batch's identity (vps, epoch, sequence, time)."""
        return self.identity_time or self.batch_time

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def add(self, table: tables.Table, row: Row, path: str) -> None:
        check_row(table, row, path)
        self.rows.setdefault(table.name, []).append(row)


RowBuilder = Callable[[datetime, int, Any], Row]


def row_builder(table: tables.Table) -> RowBuilder:
    """A function (time, vps_id, message) -> row for ``table``, from its registry entry.

    Built once per table when the module loads: ``attrgetter`` reads the proto
    fields in column order; repeated fields become lists (COPY needs them).
    No source is generated. Every column after time and vps_id must have a proto field.
    """
    columns = table.columns[2:]
    fields = [c.proto_field for c in columns]
    if any(f is None for f in fields):
        raise ValueError(f"{table.name}: a column without a proto field needs its own conversion")
    names = [f for f in fields if f is not None]
    get = attrgetter(*names)
    arrays = tuple(i for i, c in enumerate(columns) if c.is_array)
    if len(columns) == 1:

        def single(t: datetime, vps_id: int, msg: Any) -> Row:
            return (t, vps_id, list(get(msg)) if arrays else get(msg))

        return single
    if not arrays:

        def plain(t: datetime, vps_id: int, msg: Any) -> Row:
            return (t, vps_id, *get(msg))

        return plain
    one_array = _one_array_builder(names, arrays)
    if one_array is not None:
        return one_array

    def with_arrays(t: datetime, vps_id: int, msg: Any) -> Row:
        values = list(get(msg))
        for i in arrays:
            values[i] = list(values[i])
        return (t, vps_id, *values)

    return with_arrays


def _one_array_builder(fields: list[str], arrays: tuple[int, ...]) -> RowBuilder | None:
    """The common shape, one repeated field after one or more others and before two or more:
    three getters, no intermediate list (a fifth faster than copying the values)."""
    if len(arrays) != 1 or arrays[0] == 0 or len(fields) - arrays[0] < 3:
        return None
    i = arrays[0]
    array, tail = attrgetter(fields[i]), attrgetter(*fields[i + 1 :])
    if i == 1:
        first = attrgetter(fields[0])

        def after_one(t: datetime, vps_id: int, msg: Any) -> Row:
            return (t, vps_id, first(msg), list(array(msg)), *tail(msg))

        return after_one
    head = attrgetter(*fields[:i])

    def after_many(t: datetime, vps_id: int, msg: Any) -> Row:
        return (t, vps_id, *head(msg), list(array(msg)), *tail(msg))

    return after_many


def live_summary(vps_id: int, s: agent_pb2.PerformanceSnapshot, offset_ms: int) -> dict[str, Any]:
    """The small NOTIFY payload the API fans out to live views."""
    root = next((d for d in s.disks if d.mountpoint == "/"), s.disks[0] if s.disks else None)
    return {
        "vps_id": vps_id,
        "time_ms": s.timestamp_unix_ms + offset_ms,
        "cpu_percent": round(s.cpu_percent, 2),
        "memory_used_bytes": s.memory_used_bytes,
        "memory_total_bytes": s.memory_total_bytes,
        "swap_used_bytes": s.swap_used_bytes,
        "load_1": round(s.load_1, 2),
        "rx_bytes_per_second": round(sum(n.rx_bytes_per_second for n in s.network_interfaces), 1),
        "tx_bytes_per_second": round(sum(n.tx_bytes_per_second for n in s.network_interfaces), 1),
        "disk_used_bytes": root.used_bytes if root else None,
        "disk_total_bytes": root.total_bytes if root else None,
        "uptime_seconds": s.uptime_seconds,
    }
