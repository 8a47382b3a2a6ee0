"""Container stats read from cgroup files, checked against the engine's own stats on the real engine.

These machines run cgroup v1 with the cgroupfs driver; tests/unit/test_cgroup_stats.py
covers v2 and the systemd driver on fixture trees.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.collectors.cgroups import CgroupStatsReader
from agent.collectors.docker_parse import stats_reading
from agent.collectors.docker_stats import DockerCollector
from proto import agent_pb2

if TYPE_CHECKING:
    from tests.docker_fixtures import LabelledContainers

pytestmark = [pytest.mark.docker]


def ours(
    batch: agent_pb2.DockerInfoBatch, containers: LabelledContainers
) -> dict[str, agent_pb2.DockerContainerInfo]:
    return {c.name: c for c in batch.containers if c.labels.get("tidewatch.test") == containers.label_value}


def second_sample(collector: DockerCollector, pause_s: float = 1.0) -> agent_pb2.DockerInfoBatch:
    """The sample after a first one ``pause_s`` earlier (the first has no rates); closes the collector."""
    try:
        collector.sample()
        time.sleep(pause_s)
        return collector.sample()
    finally:
        collector.close()


@dataclass(frozen=True)
class CpuTime:
    """A process's CPU time (user + system) from /proc/<pid>/stat, and when it was read."""

    cpu_s: float
    at_s: float

    @classmethod
    def of(cls, pid: int) -> CpuTime:
        # Fields after the ")" that ends the command name; utime and stime are the 14th and
        # 15th fields of the line, so the 12th and 13th after it.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return cls(ticks / os.sysconf("SC_CLK_TCK"), time.monotonic())

    def percent_until(self, later: CpuTime) -> float:
        """CPU % (100 = one CPU) between this reading and ``later``."""
        return 100.0 * (later.cpu_s - self.cpu_s) / (later.at_s - self.at_s)


# The cgroup reading covers a window just inside the ground truth's, so it may differ only by
# what the process did in the few ms between; the engine's has its own clock and host-CPU
# baseline, so it gets more room.
CGROUP_TOLERANCE_PP = 10.0
ENGINE_TOLERANCE_PP = 20.0


@pytest.mark.timeout(90)
def test_cgroup_cpu_and_memory_agree_with_the_engine(
    labelled_containers: LabelledContainers, docker_engine: Any
) -> None:
    suffix = labelled_containers.label_value
    busy = labelled_containers.run(["/bin/sh", "-c", "yes > /dev/null"], name=f"busy-{suffix}")
    idle = labelled_containers.run(["sleep", "300"], name=f"idle-{suffix}")
    busy.reload()
    busy_pid = int(busy.attrs["State"]["Pid"])  # `yes` itself: the shell execs it (pids == 1 below)

    # Ground truth for `yes`'s CPU % over each collector's window: on a busy machine it may get
    # far less than a whole CPU, so the readings are compared with what it really got.
    from_cgroups = DockerCollector()
    from_engine = DockerCollector(stats_source="api")
    try:
        cgroup_truth_start = CpuTime.of(busy_pid)
        from_cgroups.sample()
        engine_truth_start = CpuTime.of(busy_pid)
        from_engine.sample()
        time.sleep(2.0)
        cgroup_batch = from_cgroups.sample()
        cgroup_truth = cgroup_truth_start.percent_until(CpuTime.of(busy_pid))
        engine_batch = from_engine.sample()
        engine_truth = engine_truth_start.percent_until(CpuTime.of(busy_pid))
        assert from_cgroups.last_stats_from_engine == 0  # nothing fell back to the engine
        assert from_cgroups.last_stats_from_cgroups >= 2
        assert from_engine.last_stats_from_cgroups == 0
    finally:
        from_cgroups.close()
        from_engine.close()

    for batch, truth, tolerance in (
        (cgroup_batch, cgroup_truth, CGROUP_TOLERANCE_PP),
        (engine_batch, engine_truth, ENGINE_TOLERANCE_PP),
    ):
        seen = ours(batch, labelled_containers)
        assert seen[f"busy-{suffix}"].has_stats and seen[f"idle-{suffix}"].has_stats
        assert seen[f"busy-{suffix}"].pids == seen[f"idle-{suffix}"].pids == 1
        assert truth > 5.0, f"`yes` got only {truth:.1f} % of a CPU: too little to check against"
        busy_percent = seen[f"busy-{suffix}"].cpu_percent
        assert busy_percent == pytest.approx(truth, abs=tolerance), (busy_percent, truth)
        assert seen[f"idle-{suffix}"].cpu_percent < 5.0, seen[f"idle-{suffix}"].cpu_percent

    # Memory: the engine's one-shot answer lands between two of our readings.
    reader = CgroupStatsReader()
    for container in (busy, idle):
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
        reader.begin_sample()
        before = reader.read(container.id, pid)
        engine = stats_reading(docker_engine.api.stats(container.id, stream=False, one_shot=True))
        reader.begin_sample()
        after = reader.read(container.id, pid)
        assert before is not None and after is not None
        low = min(before.memory_used_bytes, after.memory_used_bytes)
        high = max(before.memory_used_bytes, after.memory_used_bytes)
        assert low * 0.95 <= engine.memory_used_bytes <= high * 1.05, (low, engine.memory_used_bytes, high)
        assert after.memory_limit_bytes == engine.memory_limit_bytes
        assert after.pids == engine.pids
        assert before.cpu_total_ns <= engine.cpu_total_ns <= after.cpu_total_ns


@pytest.mark.timeout(240)
def test_a_sample_covers_every_one_of_30_containers(labelled_containers: LabelledContainers) -> None:
    suffix = labelled_containers.label_value
    names = [f"many-{suffix}-{i:02d}" for i in range(30)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: labelled_containers.run(["sleep", "3600"], name=name), names))

    collector = DockerCollector()
    seen = ours(second_sample(collector), labelled_containers)
    assert sorted(seen) == names
    assert all(c.state == "running" and c.has_stats for c in seen.values())
    assert all(c.memory_usage_bytes > 0 and c.pids == 1 and c.started_unix_ms > 0 for c in seen.values())
    assert collector.last_stats_from_engine == 0
    assert collector.last_stats_from_cgroups >= 30


@pytest.mark.timeout(60)
def test_without_readable_cgroups_the_engine_is_asked(
    labelled_containers: LabelledContainers, tmp_path: Path
) -> None:
    suffix = labelled_containers.label_value
    labelled_containers.run(["sleep", "300"], name=f"fallback-{suffix}")
    collector = DockerCollector(cgroup_root=tmp_path)  # no hierarchy there
    container = ours(second_sample(collector), labelled_containers)[f"fallback-{suffix}"]
    assert container.has_stats and container.memory_usage_bytes > 0 and container.pids == 1
    assert collector.last_stats_from_cgroups == 0
    assert collector.last_stats_from_engine >= 1


@pytest.mark.timeout(90)
def test_a_restart_of_an_older_container_is_seen(labelled_containers: LabelledContainers) -> None:
    suffix = labelled_containers.label_value
    container = labelled_containers.run(["sleep", "300"], name=f"restarted-{suffix}")
    collector = DockerCollector()
    try:
        time.sleep(7.0)  # past the age at which every sample inspects it
        first = ours(collector.sample(), labelled_containers)[f"restarted-{suffix}"]
        assert first.status.startswith("Up ") and "second" in first.status
        time.sleep(1.0)
        ours(collector.sample(), labelled_containers)
        container.restart(timeout=0)
        time.sleep(1.0)
        after = ours(collector.sample(), labelled_containers)[f"restarted-{suffix}"]
    finally:
        collector.close()
    assert after.started_unix_ms > first.started_unix_ms
    assert after.has_stats and after.pids == 1
