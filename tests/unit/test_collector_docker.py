"""Docker API JSON to DockerContainerInfo, CPU % from two readings, and quiet reconnect timing.

The real engine is exercised in tests/integration/test_docker_collector.py.
"""

from __future__ import annotations

from typing import Any

import docker
import pytest

from agent.collectors.docker_parse import (
    StatsReading,
    container_cpu_percent,
    describe_container,
    format_port,
    memory_used_bytes,
    parse_docker_time_ms,
    stats_reading,
)
from agent.collectors.docker_stats import DockerCollector


def test_parse_docker_time_ms() -> None:
    assert parse_docker_time_ms("2026-11-25T19:04:57.839994977Z") == 1_795_633_497_839
    assert parse_docker_time_ms("2026-11-25T19:04:57Z") == 1_795_633_497_000
    assert parse_docker_time_ms("2026-11-25T21:04:57.5+02:00") == 1_795_633_497_500
    assert parse_docker_time_ms("0001-01-01T00:00:00Z") == 0  # Docker's "never"
    assert parse_docker_time_ms("") == 0
    assert parse_docker_time_ms(None) == 0
    assert parse_docker_time_ms("garbage") == 0


@pytest.mark.parametrize(
    ("port", "text"),
    [
        ({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}, "0.0.0.0:8080->80/tcp"),
        ({"IP": "::", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"}, "[::]:5353->53/udp"),
        ({"PrivatePort": 6379, "Type": "tcp"}, "6379/tcp"),
    ],
)
def test_format_port(port: dict[str, Any], text: str) -> None:
    assert format_port(port) == text


SUMMARY = {
    "Id": "a" * 64,
    "Names": ["/web"],
    "Image": "nginx:1.27",
    "Created": 1_795_633_497,
    "State": "exited",
    "Status": "Exited (3) 2 minutes ago",
    "Labels": {"com.example.team": "ops"},
    "Ports": [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
    ],
}
INSPECT = {
    "Created": "2026-11-25T19:04:57.662719749Z",
    "RestartCount": 4,
    "State": {
        "Status": "exited",
        "ExitCode": 3,
        "OOMKilled": True,
        "StartedAt": "2026-11-25T19:05:00.000000001Z",
        "FinishedAt": "2026-11-25T19:06:00.5Z",
    },
}


def test_describe_container_from_list_and_inspect() -> None:
    info = describe_container(SUMMARY, INSPECT)
    assert info.container_id == "a" * 64
    assert info.name == "web"
    assert info.image == "nginx:1.27"
    assert (info.state, info.status) == ("exited", "Exited (3) 2 minutes ago")
    assert info.created_unix_ms == 1_795_633_497_662
    assert info.started_unix_ms == 1_795_633_500_000
    assert info.finished_unix_ms == 1_795_633_560_500
    assert (info.restart_count, info.exit_code, info.oom_killed) == (4, 3, True)
    assert dict(info.labels) == {"com.example.team": "ops"}
    assert list(info.ports) == ["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"]
    assert not info.has_stats


def test_describe_container_without_inspect_uses_the_list_entry() -> None:
    info = describe_container({"Id": "b" * 64, "Names": [], "State": "running", "Created": 10}, None)
    assert (info.name, info.created_unix_ms, info.started_unix_ms, info.restart_count) == ("", 10_000, 0, 0)


def test_memory_used_matches_the_docker_cli() -> None:
    v1 = {"usage": 10_000, "stats": {"total_inactive_file": 3_000, "inactive_file": 1}}
    v2 = {"usage": 10_000, "stats": {"inactive_file": 4_000}}
    assert memory_used_bytes(v1) == 7_000
    assert memory_used_bytes(v2) == 6_000
    assert memory_used_bytes({"usage": 500, "stats": {"inactive_file": 900}}) == 500  # never negative
    assert memory_used_bytes({}) == 0


STATS_V1 = {
    "read": "2026-11-25T19:05:00.352506864Z",
    "pids_stats": {"current": 3},
    "blkio_stats": {
        "io_service_bytes_recursive": [
            {"major": 254, "minor": 0, "op": "Read", "value": 4096},
            {"major": 254, "minor": 0, "op": "Write", "value": 8192},
            {"major": 254, "minor": 0, "op": "Sync", "value": 12288},
            {"major": 254, "minor": 16, "op": "Read", "value": 1},
        ]
    },
    "cpu_stats": {
        "cpu_usage": {"total_usage": 23_021_946, "percpu_usage": [1, 2]},
        "system_cpu_usage": 717_350_000_000,
        "online_cpus": 0,
    },
    "memory_stats": {"usage": 315_392, "stats": {"total_inactive_file": 15_392}, "limit": 25_276_502_016},
    "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 50}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
}


def test_stats_reading_cgroup_v1() -> None:
    reading = stats_reading(STATS_V1)
    assert reading == StatsReading(
        cpu_total_ns=23_021_946,
        system_cpu_ns=717_350_000_000,
        online_cpus=2,  # from percpu_usage when online_cpus is missing
        read_ms=1_795_633_500_352,
        memory_used_bytes=300_000,
        memory_limit_bytes=25_276_502_016,
        network_rx_bytes=101,
        network_tx_bytes=52,
        block_read_bytes=4097,
        block_write_bytes=8192,
        pids=3,
    )


def test_stats_reading_of_an_empty_body() -> None:
    reading = stats_reading({"read": "0001-01-01T00:00:00Z"})
    assert reading.read_ms == 0 and reading.online_cpus == 1 and reading.memory_used_bytes == 0


def reading(cpu_ns: int, system_ns: int, read_ms: int = 0, cpus: int = 4) -> StatsReading:
    return StatsReading(cpu_ns, system_ns, cpus, read_ms, 0, 0, 0, 0, 0, 0, 0)


def test_cpu_percent_like_docker_stats() -> None:
    # 1.5 s of CPU while the 4-CPU host ran 4 s of CPU time (1 s wall): 150 %.
    assert container_cpu_percent(reading(0, 10**9), reading(1_500_000_000, 5 * 10**9)) == pytest.approx(150.0)


def test_cpu_percent_from_wall_time_when_the_engine_gives_no_system_usage() -> None:
    assert container_cpu_percent(
        reading(0, 0, read_ms=1000), reading(500_000_000, 0, read_ms=2000)
    ) == pytest.approx(50.0)


def test_cpu_percent_of_the_same_moment_is_unknown() -> None:
    assert container_cpu_percent(reading(5, 0, read_ms=1000), reading(9, 0, read_ms=1000)) is None


def test_cpu_percent_after_a_container_restart_counts_from_zero() -> None:
    # The cgroup counter restarted at zero; the new value is all new CPU time.
    assert container_cpu_percent(reading(10**12, 10**9), reading(400_000_000, 5 * 10**9)) == pytest.approx(
        40.0
    )


def test_reconnects_are_spaced_by_the_retry_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[str] = []

    def refuse(**kwargs: Any) -> Any:
        attempts.append(kwargs["base_url"])
        raise docker.errors.DockerException("Error while fetching server API version: refused")

    monkeypatch.setattr(docker, "DockerClient", refuse)
    now = [100.0]
    collector = DockerCollector(
        base_url="unix:///nowhere.sock", retry_interval_s=30.0, monotonic=lambda: now[0]
    )
    first = collector.sample()
    now[0] += 29.0
    second = collector.sample()  # within the interval: the last error again, no new attempt
    now[0] += 2.0
    collector.sample()
    collector.close()
    assert not first.docker_available and not second.docker_available
    assert first.docker_error == second.docker_error == "Error while fetching server API version: refused"
    assert attempts == ["unix:///nowhere.sock", "unix:///nowhere.sock"]
