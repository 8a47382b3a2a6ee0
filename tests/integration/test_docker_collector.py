"""DockerCollector against the real Docker engine (started by scripts/local-docker.sh)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.collectors.docker_stats import DockerCollector
from proto import agent_pb2

if TYPE_CHECKING:
    from tests.docker_fixtures import LabelledContainers

# The engine and per-test container fixtures (tests/conftest.py is the lead's).

pytestmark = [pytest.mark.docker, pytest.mark.timeout(60)]


def ours(
    batch: agent_pb2.DockerInfoBatch, containers: LabelledContainers
) -> dict[str, agent_pb2.DockerContainerInfo]:
    """Our test's containers in a batch, by name (the engine may run other people's too)."""
    return {c.name: c for c in batch.containers if c.labels.get("tidewatch.test") == containers.label_value}


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_lists_states_exit_codes_labels_and_real_stats(labelled_containers: LabelledContainers) -> None:
    suffix = labelled_containers.label_value
    labelled_containers.run(
        ["/bin/sh", "-c", "yes > /dev/null"], name=f"busy-{suffix}", labels={"role": "busy"}
    )
    labelled_containers.run(["sleep", "300"], name=f"sleepy-{suffix}")
    exited = labelled_containers.run(["/bin/sh", "-c", "exit 3"], name=f"exited-{suffix}")
    exited.wait(timeout=10)

    collector = DockerCollector()
    try:
        first = collector.sample()
        assert first.docker_available, first.docker_error
        seen = ours(first, labelled_containers)
        assert set(seen) == {f"busy-{suffix}", f"sleepy-{suffix}", f"exited-{suffix}"}
        # One reading gives no CPU %, so no stats yet: never a false zero.
        assert not any(c.has_stats for c in seen.values())

        time.sleep(1.0)
        second = collector.sample()
    finally:
        collector.close()

    assert second.docker_available
    assert second.timestamp_unix_ms > first.timestamp_unix_ms
    assert second.sequence == 0
    seen = ours(second, labelled_containers)
    busy, sleepy, done = seen[f"busy-{suffix}"], seen[f"sleepy-{suffix}"], seen[f"exited-{suffix}"]

    assert busy.state == "running" and busy.status.startswith("Up")
    assert busy.image == "tidewatch/busybox:local"
    assert busy.labels["role"] == "busy"
    assert len(busy.container_id) == 64
    assert busy.has_stats
    # `yes` keeps a CPU busy; the threshold is low because parallel test runs share the host.
    assert busy.cpu_percent > 5.0, busy.cpu_percent
    assert busy.memory_usage_bytes > 0
    assert busy.memory_limit_bytes >= busy.memory_usage_bytes
    assert busy.pids >= 1
    assert busy.started_unix_ms >= busy.created_unix_ms > 0
    assert busy.finished_unix_ms == 0

    assert sleepy.has_stats
    assert sleepy.cpu_percent < 2.0
    assert sleepy.exit_code == 0

    assert done.state == "exited"
    assert done.exit_code == 3
    assert not done.has_stats
    # The engine stamps start and finish from different clocks; an instant exit can
    # "finish" a few ms before it "started", so only check both are real and close.
    assert done.started_unix_ms > 0 and done.finished_unix_ms > 0
    assert abs(done.finished_unix_ms - done.started_unix_ms) < 10_000
    assert not done.oom_killed
    assert done.restart_count == 0


def test_follows_restarts_and_stops(labelled_containers: LabelledContainers, docker_engine: Any) -> None:
    suffix = labelled_containers.label_value
    flapping = labelled_containers.run(
        ["/bin/sh", "-c", "sleep 0.3; exit 1"],
        name=f"flapping-{suffix}",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
    )
    steady = labelled_containers.run(["sleep", "300"], name=f"steady-{suffix}")
    collector = DockerCollector()
    try:
        collector.sample()
        wait_for(lambda: docker_engine.api.inspect_container(flapping.id)["RestartCount"] >= 1)
        steady.stop(timeout=0)
        steady.wait(timeout=10)
        batch = collector.sample()
    finally:
        collector.close()
    seen = ours(batch, labelled_containers)
    # Both changed state or status since the first sample, so both were inspected again.
    assert seen[f"flapping-{suffix}"].restart_count >= 1
    assert seen[f"steady-{suffix}"].state == "exited"
    assert seen[f"steady-{suffix}"].exit_code == 137  # SIGKILL after stop(timeout=0)
    assert not seen[f"steady-{suffix}"].has_stats


def test_unreachable_engine_is_reported_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    collector = DockerCollector(base_url="unix:///nonexistent/tidewatch-docker.sock", retry_interval_s=0.0)
    with caplog.at_level(logging.DEBUG, logger="agent.collectors.docker_stats"):
        batches = [collector.sample() for _ in range(3)]
    collector.close()
    for batch in batches:
        assert not batch.docker_available
        assert "No such file" in batch.docker_error
        assert batch.timestamp_unix_ms > 0
        assert not batch.containers
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "Docker unavailable" in warnings[0].getMessage()


def test_reconnects_when_the_engine_appears(
    tmp_path: Path, labelled_containers: LabelledContainers, caplog: pytest.LogCaptureFixture
) -> None:
    socket_path = tmp_path / "docker.sock"
    collector = DockerCollector(base_url=f"unix://{socket_path}", retry_interval_s=0.0)
    try:
        assert not collector.sample().docker_available
        socket_path.symlink_to("/var/run/docker.sock")  # the engine "comes up"
        with caplog.at_level(logging.INFO, logger="agent.collectors.docker_stats"):
            batch = collector.sample()
    finally:
        collector.close()
    assert batch.docker_available
    assert batch.docker_error == ""
    assert any("reachable again" in r.getMessage() for r in caplog.records)
