"""Turn validated protobuf batches into table rows. Pure: no I/O.

A batch becomes a ``ConvertedBatch``: rows per table (tuples in the column
order of the registry, ``common.metric_tables``, read by functions built from it), the earliest sample time, the batch's identity
time for deduplication, and side data for container metadata and the live push.

Every agent timestamp is corrected for the agent's clock before it is checked
and stored (``collector.batch_time``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from collector import tables
from collector.batch_time import (
    TimeRules,
    check_corrected,
    clock_rules,
    identity_time,
    optional_time,
    stored_time,
)
from collector.row_shapes import ContainerState, ConvertedBatch, live_summary, row_builder
from collector.rows_fast import DEFAULT_LIMITS, convert_fast, remember_containers
from collector.validation import BatchLimits, InvalidBatch, check_count
from proto import agent_pb2

__all__ = [
    "ContainerState",
    "ConvertedBatch",
    "TimeRules",
    "checked_convert_batch",
    "clock_rules",
    "convert_batch",
    "row_builder",
]

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:.]{0,199}$")


# The same labels arrive with every Docker sample: remember the JSON of small,
# NUL-free label sets (text and UTF-8 size) by content. Bounded: cleared when full.
_LABELS_MEMO_ENTRIES = 4096
_LABELS_MEMO_MAX_CHARS = 2048
_labels_memo: dict[tuple[tuple[str, str], ...], tuple[str, int]] = {}


def _labels_json(labels: Any, path: str, limits: BatchLimits) -> str:
    check_count(f"{path}.labels", len(labels), limits.labels_per_item)
    items = tuple(sorted(labels.items()))
    encoded = _labels_memo.get(items)
    if encoded is None:
        if any("\x00" in key or "\x00" in value for key, value in items):
            raise InvalidBatch(f"{path}.labels: a key or value contains NUL")
        text = json.dumps(dict(items), sort_keys=True, ensure_ascii=False)
        encoded = (text, len(text.encode()))
        if len(text) <= _LABELS_MEMO_MAX_CHARS:
            if len(_labels_memo) >= _LABELS_MEMO_ENTRIES:
                _labels_memo.clear()
            _labels_memo[items] = encoded
    text, size = encoded
    if size > limits.label_bytes * limits.labels_per_item:
        raise InvalidBatch(f"{path}.labels: too large")
    return text


def _check_timed_items(name: str, items: Any, limit: int, rules: TimeRules) -> int:
    """Count, non-emptiness and every corrected timestamp of a batch's items; the earliest, raw."""
    check_count(name, len(items), limit)
    if not items:
        raise InvalidBatch(f"{name}: the batch is empty")
    for i, item in enumerate(items):
        check_corrected(f"{name}[{i}].timestamp_unix_ms", item.timestamp_unix_ms, rules)
    return min(item.timestamp_unix_ms for item in items)  # type: ignore[no-any-return]


_host_row = row_builder(tables.HOST)
_disk_row = row_builder(tables.DISK)
_disk_io_row = row_builder(tables.DISK_IO)
_network_row = row_builder(tables.NETWORK)
_temperature_row = row_builder(tables.TEMPERATURE)
_container_row = row_builder(tables.CONTAINER)


def _convert_performance(
    msg: agent_pb2.PerformanceSnapshotBatch, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch:
    first_ms = _check_timed_items("snapshots", msg.snapshots, limits.snapshots_per_batch, rules)
    offset = rules.offset_ms
    out = ConvertedBatch(
        "performance",
        msg.sequence,
        stored_time(first_ms + offset),
        identity_time=identity_time(first_ms, rules),
    )
    latest: agent_pb2.PerformanceSnapshot | None = None
    for i, s in enumerate(msg.snapshots):
        path = f"snapshots[{i}]"
        t = stored_time(s.timestamp_unix_ms + offset)
        check_count(f"{path}.cpu_per_core_percent", len(s.cpu_per_core_percent), limits.cores)
        check_count(f"{path}.disks", len(s.disks), limits.disks)
        check_count(f"{path}.disk_io", len(s.disk_io), limits.disk_devices)
        check_count(f"{path}.network_interfaces", len(s.network_interfaces), limits.interfaces)
        check_count(f"{path}.temperatures", len(s.temperatures), limits.temperatures)
        out.add(tables.HOST, _host_row(t, vps_id, s), path)
        for j, d in enumerate(s.disks):
            out.add(tables.DISK, _disk_row(t, vps_id, d), f"{path}.disks[{j}]")
        for j, io in enumerate(s.disk_io):
            out.add(tables.DISK_IO, _disk_io_row(t, vps_id, io), f"{path}.disk_io[{j}]")
        for j, n in enumerate(s.network_interfaces):
            out.add(tables.NETWORK, _network_row(t, vps_id, n), f"{path}.network_interfaces[{j}]")
        for j, temp in enumerate(s.temperatures):
            out.add(tables.TEMPERATURE, _temperature_row(t, vps_id, temp), f"{path}.temperatures[{j}]")
        if latest is None or s.timestamp_unix_ms >= latest.timestamp_unix_ms:
            latest = s
    assert latest is not None
    out.live = live_summary(vps_id, latest, offset)
    return out


def _convert_docker(
    msg: agent_pb2.DockerInfoBatch, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch:
    offset = rules.offset_ms
    check_corrected("timestamp_unix_ms", msg.timestamp_unix_ms, rules)
    check_count("containers", len(msg.containers), limits.containers)
    t = stored_time(msg.timestamp_unix_ms + offset)
    out = ConvertedBatch(
        "docker", msg.sequence, t, docker_time=t, identity_time=identity_time(msg.timestamp_unix_ms, rules)
    )
    # An unavailable engine says nothing about the containers: leave them as they were.
    out.containers = [] if msg.docker_available else None
    for i, c in enumerate(msg.containers):
        path = f"containers[{i}]"
        if not c.container_id or len(c.container_id) > 128 or "\x00" in c.container_id:
            raise InvalidBatch(f"{path}.container_id: must be 1 to 128 characters, without NUL")
        for name, value in (("name", c.name), ("image", c.image), ("state", c.state), ("status", c.status)):
            if len(value) > 1024 or "\x00" in value:
                raise InvalidBatch(f"{path}.{name}: longer than 1024 characters or contains NUL")
        check_count(f"{path}.ports", len(c.ports), limits.ports_per_container)
        for j, port in enumerate(c.ports):
            if "\x00" in port:
                raise InvalidBatch(f"{path}.ports[{j}]: contains NUL")
        if c.restart_count > tables.INT_MAX:
            raise InvalidBatch(f"{path}.restart_count: {c.restart_count} is not below 2^31")
        if out.containers is not None:
            out.containers.append(
                ContainerState(
                    container_id=c.container_id,
                    name=c.name,
                    image=c.image,
                    state=c.state,
                    status=c.status,
                    created_at=optional_time(c.created_unix_ms, f"{path}.created_unix_ms", offset),
                    started_at=optional_time(c.started_unix_ms, f"{path}.started_unix_ms", offset),
                    finished_at=optional_time(c.finished_unix_ms, f"{path}.finished_unix_ms", offset),
                    restart_count=c.restart_count,
                    exit_code=c.exit_code if c.state in ("exited", "dead") else None,
                    oom_killed=c.oom_killed,
                    labels_json=_labels_json(c.labels, path, limits),
                    ports=[p[:128] for p in c.ports],
                )
            )
        if c.has_stats:
            out.add(tables.CONTAINER, _container_row(t, vps_id, c), path)
    return out


def _convert_generic(
    msg: agent_pb2.GenericMetricsBatch, vps_id: int, rules: TimeRules, limits: BatchLimits
) -> ConvertedBatch:
    first_ms = _check_timed_items("metrics", msg.metrics, limits.generic_metrics_per_batch, rules)
    for i, m in enumerate(msg.metrics):
        if not _METRIC_NAME.match(m.name):
            raise InvalidBatch(
                f"metrics[{i}].name: {m.name[:64]!r} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:.]*)"
            )
    offset = rules.offset_ms
    out = ConvertedBatch(
        "generic", msg.sequence, stored_time(first_ms + offset), identity_time=identity_time(first_ms, rules)
    )
    for i, m in enumerate(msg.metrics):
        path = f"metrics[{i}]"
        out.add(
            tables.GENERIC,
            (
                stored_time(m.timestamp_unix_ms + offset),
                vps_id,
                m.name,
                _labels_json(m.labels, path, limits),
                m.value,
            ),
            path,
        )
    return out


_CONVERTERS: dict[str, Callable[[Any, int, TimeRules, BatchLimits], ConvertedBatch]] = {
    "performance_batch": _convert_performance,
    "docker_batch": _convert_docker,
    "generic_metrics_batch": _convert_generic,
}


def convert_batch(
    payload_name: str, message: Any, vps_id: int, rules: TimeRules, limits: BatchLimits | None = None
) -> ConvertedBatch:
    """Validate and convert one batch; raise InvalidBatch naming the bad field.

    The fast path (``collector.rows_fast``) converts valid batches whole; what it
    doubts, the checked conversion decides, with the same result or error.
    """
    limits = limits or DEFAULT_LIMITS
    try:
        converted = convert_fast(payload_name, message, vps_id, rules, limits)
    except InvalidBatch:
        converted = None
    if converted is None:
        converted = checked_convert_batch(payload_name, message, vps_id, rules, limits)
        if payload_name == "docker_batch":
            remember_containers(message, converted, rules.offset_ms, limits)
    return _check_sequence(converted)


def checked_convert_batch(
    payload_name: str, message: Any, vps_id: int, rules: TimeRules, limits: BatchLimits | None = None
) -> ConvertedBatch:
    """The item-by-item conversion, which names the first bad field (the reference)."""
    return _check_sequence(_CONVERTERS[payload_name](message, vps_id, rules, limits or DEFAULT_LIMITS))


def _check_sequence(converted: ConvertedBatch) -> ConvertedBatch:
    if converted.sequence <= 0:
        raise InvalidBatch("sequence: must be a positive number")
    if converted.sequence > tables.BIGINT_MAX:
        raise InvalidBatch("sequence: must be below 2^63")
    return converted
