"""The fast path of batch conversion: valid batches, converted table by table. Pure: no I/O.

``collector.rows`` holds the checked conversion, which walks a batch item by
item and names the first bad field. Almost every batch is valid, so this path
first converts it whole and checks each table's rows at once
(``collector.row_checks``). It answers ``None`` when anything is doubtful
(a count over its limit, a time out of range, a row a check refuses, a
container not seen before), and the checked conversion then decides and names
the field. Its result must equal the checked conversion's on every valid batch:
``tests/unit/test_rows_fast.py`` pins the two on the same batches.

Docker batches repeat the same container metadata every sample: a container's
:class:`ContainerState` is remembered by the raw values it was built from
(after the checked conversion built it), so a known container costs one key.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from collector import tables
from collector.batch_time import TimeRules, identity_time, stored_time
from collector.row_checks_proto import proto_rows_check
from collector.row_shapes import ContainerState, ConvertedBatch, Row, live_summary, row_builder
from collector.validation import BatchLimits
from proto import agent_pb2

__all__ = ["DEFAULT_LIMITS", "convert_fast", "remember_containers"]

DEFAULT_LIMITS = BatchLimits()

ValuesOf = Callable[[Any], tuple[Any, ...]]


def _values_of(table: tables.Table) -> ValuesOf:
    """The proto fields of a table without arrays, in column order, as one tuple."""
    columns = table.columns[2:]
    if any(c.is_array or c.proto_field is None for c in columns):
        raise ValueError(f"{table.name}: an array or derived column needs its row builder")
    get = attrgetter(*(c.proto_field for c in columns if c.proto_field is not None))
    if len(columns) == 1:
        return lambda message: (get(message),)
    return get  # type: ignore[no-any-return]


_host_row = row_builder(tables.HOST)
_disk_values = _values_of(tables.DISK)
_disk_io_values = _values_of(tables.DISK_IO)
_network_values = _values_of(tables.NETWORK)
_temperature_values = _values_of(tables.TEMPERATURE)
_container_values = _values_of(tables.CONTAINER)
_check_host = proto_rows_check(tables.HOST)
_check_disk = proto_rows_check(tables.DISK)
_check_disk_io = proto_rows_check(tables.DISK_IO)
_check_network = proto_rows_check(tables.NETWORK)
_check_temperature = proto_rows_check(tables.TEMPERATURE)
_check_container = proto_rows_check(tables.CONTAINER)


def _time_ok(ms: int, rules: TimeRules) -> bool:
    """What ``check_time`` accepts."""
    return ms > 0 and rules.now_ms - rules.max_age_ms <= ms <= rules.now_ms + rules.max_future_ms


def _performance(
    msg: agent_pb2.PerformanceSnapshotBatch, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch | None:
    snapshots = msg.snapshots
    if not snapshots or len(snapshots) > limits.snapshots_per_batch:
        return None
    offset = rules.offset_ms
    sent = [s.timestamp_unix_ms for s in snapshots]
    first_ms = min(sent)
    if not (_time_ok(first_ms + offset, rules) and _time_ok(max(sent) + offset, rules)):
        return None
    host: list[Row] = []
    disk: list[Row] = []
    disk_io: list[Row] = []
    network: list[Row] = []
    temperature: list[Row] = []
    latest = snapshots[0]
    for s, ms in zip(snapshots, sent, strict=True):
        disks, ios, nics, temps = s.disks, s.disk_io, s.network_interfaces, s.temperatures
        if (
            len(s.cpu_per_core_percent) > limits.cores
            or len(disks) > limits.disks
            or len(ios) > limits.disk_devices
            or len(nics) > limits.interfaces
            or len(temps) > limits.temperatures
        ):
            return None
        t = stored_time(ms + offset)
        host.append(_host_row(t, vps_id, s))
        if disks:
            disk += [(t, vps_id, *_disk_values(d)) for d in disks]
        if ios:
            disk_io += [(t, vps_id, *_disk_io_values(d)) for d in ios]
        if nics:
            network += [(t, vps_id, *_network_values(n)) for n in nics]
        if temps:
            temperature += [(t, vps_id, *_temperature_values(r)) for r in temps]
        if ms >= latest.timestamp_unix_ms:
            latest = s
    out = ConvertedBatch(
        "performance",
        msg.sequence,
        stored_time(first_ms + offset),
        identity_time=identity_time(first_ms, rules),
    )
    for table, rows, ok in (
        (tables.HOST, host, _check_host),
        (tables.DISK, disk, _check_disk),
        (tables.DISK_IO, disk_io, _check_disk_io),
        (tables.NETWORK, network, _check_network),
        (tables.TEMPERATURE, temperature, _check_temperature),
    ):
        if rows:
            if not ok(rows):
                return None
            out.rows[table.name] = rows
    out.live = live_summary(vps_id, latest, offset)
    return out


# Known containers: raw metadata values (and the clock offset applied) -> the
# state the checked conversion built from them. Bounded: cleared when full.
_STATES_MAX = 16_384
_states: dict[tuple[Any, ...], ContainerState] = {}
_metadata = attrgetter(
    "container_id",
    "name",
    "image",
    "state",
    "status",
    "created_unix_ms",
    "started_unix_ms",
    "finished_unix_ms",
    "restart_count",
    "exit_code",
    "oom_killed",
)


def _container_key(c: agent_pb2.DockerContainerInfo, offset_ms: int) -> tuple[Any, ...]:
    labels = c.labels
    return (
        _metadata(c),
        # Not labels.items(): a proto map's items view iterates in Python, key by key.
        tuple([(key, labels[key]) for key in sorted(labels)]) if labels else (),
        tuple(c.ports),
        offset_ms,
    )


def remember_containers(
    msg: agent_pb2.DockerInfoBatch, converted: ConvertedBatch, offset_ms: int, limits: BatchLimits
) -> None:
    """After the checked conversion accepted ``msg``: remember its container states."""
    states = converted.containers
    if limits is not DEFAULT_LIMITS or states is None or len(states) != len(msg.containers):
        return
    if len(_states) + len(states) > _STATES_MAX:
        _states.clear()
    for c, state in zip(msg.containers, states, strict=True):
        _states[_container_key(c, offset_ms)] = state


def _docker(
    msg: agent_pb2.DockerInfoBatch, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch | None:
    containers = msg.containers
    if limits is not DEFAULT_LIMITS or len(containers) > limits.containers:
        return None
    offset = rules.offset_ms
    sent = msg.timestamp_unix_ms
    if not _time_ok(sent + offset, rules):
        return None
    t = stored_time(sent + offset)
    states: list[ContainerState] = []
    rows: list[Row] = []
    known = _states
    for c in containers:
        state = known.get(_container_key(c, offset))
        if state is None:
            return None
        states.append(state)
        if c.has_stats:
            rows.append((t, vps_id, *_container_values(c)))
    if rows and not _check_container(rows):
        return None
    out = ConvertedBatch("docker", msg.sequence, t, docker_time=t, identity_time=identity_time(sent, rules))
    if rows:
        out.rows[tables.CONTAINER.name] = rows
    # An unavailable engine says nothing about the containers: leave them as they were.
    out.containers = states if msg.docker_available else None
    return out


_FAST: dict[str, Callable[[Any, int, TimeRules, BatchLimits], ConvertedBatch | None]] = {
    "performance_batch": _performance,
    "docker_batch": _docker,
}


def convert_fast(
    payload_name: str, message: Any, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch | None:
    """The batch converted, or None: then the checked conversion must decide."""
    fast = _FAST.get(payload_name)
    return fast(message, vps_id, rules, limits) if fast is not None else None
