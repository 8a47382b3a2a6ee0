"""Protobuf batches to table rows: counts, identity, live summary and container state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from collector import tables
from collector.rows import TimeRules, convert_batch
from collector.validation import BatchLimits, InvalidBatch
from proto import agent_pb2
from tests.factories import docker_batch, performance_batch, snapshot

NOW_MS = 1_800_000_000_000
RULES = TimeRules(now_ms=NOW_MS, max_future_ms=300_000, max_age_ms=7 * 86_400_000)
T0 = NOW_MS - 60_000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_performance_rows_per_table_and_identity() -> None:
    # Out of order on purpose: the batch's identity is its earliest sample.
    batch = performance_batch(7, [T0 + 2000, T0, T0 + 1000], disks=3, interfaces=2, cores=4)
    batch.snapshots[1].temperatures.add(sensor="cpu", celsius=51.0)
    converted = convert_batch("performance_batch", batch, 42, RULES)

    assert (converted.kind, converted.sequence, converted.batch_time) == ("performance", 7, at(T0))
    counts = {name: len(rows) for name, rows in converted.rows.items()}
    assert counts == {
        "host_metrics": 3,
        "disk_metrics": 9,
        "disk_io_metrics": 3,
        "network_metrics": 6,
        "temperature_metrics": 1,
    }
    assert converted.row_count == 22
    for name, rows in converted.rows.items():
        assert all(len(row) == len(tables.TABLES[name].columns) for row in rows)
        assert all(row[1] == 42 for row in rows)
    host = converted.rows["host_metrics"][1]
    assert host[0] == at(T0)
    assert host[3] == list(batch.snapshots[1].cpu_per_core_percent)
    assert converted.rows["temperature_metrics"] == [(at(T0), 42, "cpu", 51.0)]
    assert converted.containers is None and converted.docker_time is None


def test_live_summary_is_the_latest_snapshot_with_the_root_disk() -> None:
    batch = performance_batch(1, [T0 + 5000, T0], disks=3, interfaces=2)
    batch.snapshots[0].disks[0].mountpoint = "/boot"
    batch.snapshots[0].disks[1].mountpoint = "/"
    latest = batch.snapshots[0]
    live = convert_batch("performance_batch", batch, 9, RULES).live
    assert live == {
        "vps_id": 9,
        "time_ms": T0 + 5000,
        "cpu_percent": round(latest.cpu_percent, 2),
        "memory_used_bytes": latest.memory_used_bytes,
        "memory_total_bytes": latest.memory_total_bytes,
        "swap_used_bytes": latest.swap_used_bytes,
        "load_1": round(latest.load_1, 2),
        "rx_bytes_per_second": round(sum(n.rx_bytes_per_second for n in latest.network_interfaces), 1),
        "tx_bytes_per_second": round(sum(n.tx_bytes_per_second for n in latest.network_interfaces), 1),
        "disk_used_bytes": latest.disks[1].used_bytes,
        "disk_total_bytes": latest.disks[1].total_bytes,
        "uptime_seconds": latest.uptime_seconds,
    }


def test_live_summary_without_a_root_disk_uses_the_first_or_none() -> None:
    batch = performance_batch(1, [T0], disks=2)
    batch.snapshots[0].disks[0].mountpoint = "/srv"
    live = convert_batch("performance_batch", batch, 1, RULES).live
    assert live is not None and live["disk_used_bytes"] == batch.snapshots[0].disks[0].used_bytes
    bare = agent_pb2.PerformanceSnapshotBatch(sequence=1, snapshots=[snapshot(T0, disks=0, interfaces=0)])
    live = convert_batch("performance_batch", bare, 1, RULES).live
    assert live is not None and live["disk_used_bytes"] is None and live["rx_bytes_per_second"] == 0


def container(**fields: Any) -> agent_pb2.DockerContainerInfo:
    base: dict[str, Any] = {
        "container_id": "c1",
        "name": "web",
        "image": "nginx:1",
        "state": "running",
        "status": "Up 1 hour",
        "created_unix_ms": T0 - 3_600_000,
        "started_unix_ms": T0 - 3_000_000,
    }
    return agent_pb2.DockerContainerInfo(**(base | fields))


def docker(*containers: agent_pb2.DockerContainerInfo, available: bool = True) -> agent_pb2.DockerInfoBatch:
    return agent_pb2.DockerInfoBatch(
        sequence=3, timestamp_unix_ms=T0, docker_available=available, containers=containers
    )


def test_container_state_mapping() -> None:
    batch = docker(
        container(labels={"z": "1", "a": "ü"}, ports=["0.0.0.0:80->80/tcp", "p" * 200], restart_count=2),
        container(
            container_id="c2", state="exited", exit_code=137, oom_killed=True, finished_unix_ms=T0 - 1000
        ),
        container(container_id="c3", state="running", exit_code=1),  # a stale exit code while running
        container(container_id="c4", state="dead", exit_code=0, created_unix_ms=0, started_unix_ms=-5),
    )
    converted = convert_batch("docker_batch", batch, 5, RULES)
    assert (converted.kind, converted.batch_time, converted.docker_time) == ("docker", at(T0), at(T0))
    assert converted.containers is not None
    c1, c2, c3, c4 = converted.containers
    assert c1.labels_json == '{"a": "ü", "z": "1"}'
    assert c1.ports == ["0.0.0.0:80->80/tcp", "p" * 128]
    assert (c1.created_at, c1.started_at, c1.finished_at) == (at(T0 - 3_600_000), at(T0 - 3_000_000), None)
    assert (c1.restart_count, c1.exit_code) == (2, None)
    assert (c2.state, c2.exit_code, c2.oom_killed, c2.finished_at) == ("exited", 137, True, at(T0 - 1000))
    assert c3.exit_code is None, "exit codes only mean something for exited or dead containers"
    assert (c4.exit_code, c4.created_at, c4.started_at) == (0, None, None)
    assert converted.rows == {}  # no container had stats


def test_container_stats_become_metric_rows_even_when_the_engine_is_down() -> None:
    stats = {"has_stats": True, "cpu_percent": 12.5, "memory_usage_bytes": 10, "pids": 3}
    converted = convert_batch("docker_batch", docker(container(**stats), available=False), 5, RULES)
    assert converted.containers is None, "an unavailable engine says nothing about containers"
    assert converted.rows["container_metrics"] == [(at(T0), 5, "c1", 12.5, 10, 0, 0, 0, 0, 0, 3)]


def test_factory_docker_batch_converts_completely() -> None:
    converted = convert_batch("docker_batch", docker_batch(4, T0, containers=6), 1, RULES)
    assert converted.row_count == 6 and converted.containers is not None and len(converted.containers) == 6


def test_generic_metrics() -> None:
    batch = agent_pb2.GenericMetricsBatch(
        sequence=9,
        metrics=[
            agent_pb2.GenericMetric(timestamp_unix_ms=T0 + 10, name="app:requests.total", value=3.0),
            agent_pb2.GenericMetric(timestamp_unix_ms=T0, name="queue_depth", value=-1.5, labels={"q": "a"}),
        ],
    )
    converted = convert_batch("generic_metrics_batch", batch, 2, RULES)
    assert converted.batch_time == at(T0)
    assert converted.rows == {
        "generic_metrics": [
            (at(T0 + 10), 2, "app:requests.total", "{}", 3.0),
            (at(T0), 2, "queue_depth", '{"q": "a"}', -1.5),
        ]
    }


def perf_with(**fields: Any) -> agent_pb2.PerformanceSnapshotBatch:
    s = snapshot(T0)
    for name, value in fields.items():
        setattr(s, name, value)
    return agent_pb2.PerformanceSnapshotBatch(sequence=1, snapshots=[s])


@pytest.mark.parametrize(
    ("kind", "message", "detail"),
    [
        (
            "performance_batch",
            agent_pb2.PerformanceSnapshotBatch(sequence=1),
            "snapshots: the batch is empty",
        ),
        ("generic_metrics_batch", agent_pb2.GenericMetricsBatch(sequence=1), "metrics: the batch is empty"),
        ("performance_batch", performance_batch(0, [T0]), "sequence: must be a positive number"),
        ("performance_batch", performance_batch(2**63, [T0]), "sequence: must be below 2^63"),
        ("performance_batch", perf_with(timestamp_unix_ms=0), "snapshots[0].timestamp_unix_ms: "),
        ("performance_batch", perf_with(load_15=-1.0), "snapshots[0].load_15: -1.0 is not a"),
        ("docker_batch", agent_pb2.DockerInfoBatch(sequence=1), "timestamp_unix_ms: timestamp is missing"),
        ("docker_batch", docker(container(container_id="")), "containers[0].container_id: must be 1 to 128"),
        ("docker_batch", docker(container(container_id="x" * 129)), "containers[0].container_id: must be"),
        ("docker_batch", docker(container(container_id="a\x00")), "containers[0].container_id: must be"),
        ("docker_batch", docker(container(image="i" * 1025)), "containers[0].image: longer than 1024"),
        ("docker_batch", docker(container(status="up\x00")), "containers[0].status: "),
        ("docker_batch", docker(container(ports=["ok", "b\x00d"])), "containers[0].ports[1]: contains NUL"),
        ("docker_batch", docker(container(labels={"k\x00": "v"})), "containers[0].labels: "),
        ("docker_batch", docker(container(restart_count=2**31)), "containers[0].restart_count: "),
        ("docker_batch", docker(container(created_unix_ms=2**62)), "containers[0].created_unix_ms: "),
        (
            "docker_batch",
            docker(container(started_unix_ms=253_402_300_800_000)),
            "containers[0].started_unix_ms",
        ),
        ("docker_batch", docker(container(has_stats=True, cpu_percent=-1.0)), "containers[0].cpu_percent: "),
        (
            "generic_metrics_batch",
            agent_pb2.GenericMetricsBatch(
                sequence=1, metrics=[agent_pb2.GenericMetric(timestamp_unix_ms=T0, name="9lives", value=1.0)]
            ),
            "metrics[0].name: '9lives' is not a metric name",
        ),
    ],
)
def test_invalid_batches_name_the_field(kind: str, message: Any, detail: str) -> None:
    with pytest.raises(InvalidBatch) as error:
        convert_batch(kind, message, 1, RULES)
    assert str(error.value).startswith(detail), str(error.value)


def test_limits_are_configurable() -> None:
    limits = BatchLimits(cores=2, containers=1, labels_per_item=1)
    with pytest.raises(InvalidBatch, match=r"^snapshots\[0\]\.cpu_per_core_percent: 3 items"):
        convert_batch("performance_batch", performance_batch(1, [T0], cores=3), 1, RULES, limits)
    with pytest.raises(InvalidBatch, match=r"^containers: 2 items"):
        convert_batch("docker_batch", docker(container(), container(container_id="c2")), 1, RULES, limits)
    with pytest.raises(InvalidBatch, match=r"^containers\[0\]\.labels: 2 items"):
        convert_batch("docker_batch", docker(container(labels={"a": "1", "b": "2"})), 1, RULES, limits)
