"""The cgroup v1 and v2 readers against fixture trees in the kernel's file formats.

tests/fixtures/cgroup/v2 is a unified hierarchy (systemd driver, one container
behind a cgroup namespace with a custom slice); tests/fixtures/cgroup/v1 is the
per-controller layout of these machines (cgroupfs driver) plus a systemd-driver
container whose PID is not visible.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.collectors.cgroup_parse import (
    host_cpu_ns,
    parse_flat_keyed,
    parse_limit_bytes,
    parse_net_dev,
    parse_proc_cgroup,
    parse_v1_blkio_bytes,
    parse_v2_io_bytes,
)
from agent.collectors.cgroups import CgroupStatsReader, cgroup_candidates, detect_cgroup_version
from agent.collectors.docker_parse import container_cpu_percent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cgroup"
V2_SYSTEMD = "a" * 8 + "1" * 56
V2_SLICE = "b" * 8 + "2" * 56
V1_CGROUPFS = "c" * 8 + "3" * 56
V1_SYSTEMD = "d" * 8 + "4" * 56
HOST_MEMORY = CgroupStatsReader(cgroup_root=FIXTURES / "v1" / "sys/fs/cgroup").host_memory_bytes
# The fixture /proc/stat: user..softirq of the "cpu" line, in USER_HZ ticks.
HOST_TICKS = 60337 + 0 + 10862 + 55153 + 521 + 0 + 278


def reader(version: str, root: Path = FIXTURES) -> CgroupStatsReader:
    base = root / version
    cgroups = CgroupStatsReader(
        cgroup_root=base / "sys/fs/cgroup", proc_root=base / "proc", clock=lambda: 1000.0
    )
    cgroups.begin_sample()
    return cgroups


# -- parsers ---------------------------------------------------------------------------------


def test_flat_keyed_files() -> None:
    stat = parse_flat_keyed(
        (FIXTURES / "v2/sys/fs/cgroup/system.slice" / f"docker-{V2_SYSTEMD}.scope" / "cpu.stat").read_text()
    )
    assert stat["usage_usec"] == 8123456
    assert stat["core_sched.force_idle_usec"] == 0
    assert parse_flat_keyed("a 1\nbroken\nb x\nc 3\n") == {"a": 1, "c": 3}


def test_limits() -> None:
    assert parse_limit_bytes("max\n") is None
    assert parse_limit_bytes("9223372036854771712\n") is None  # v1 "unlimited"
    assert parse_limit_bytes("268435456\n") == 268435456
    assert parse_limit_bytes("") is None


def test_v1_blkio_sums_read_and_write_over_devices() -> None:
    text = (
        FIXTURES / "v1/sys/fs/cgroup/blkio/docker" / V1_CGROUPFS / "blkio.throttle.io_service_bytes_recursive"
    ).read_text()
    assert parse_v1_blkio_bytes(text) == (8192, 16384)
    assert parse_v1_blkio_bytes("Total 0\n") == (0, 0)


def test_v2_io_stat_sums_rbytes_and_wbytes() -> None:
    text = "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=10 wbytes=20 rios=1 wios=1\n"
    assert parse_v2_io_bytes(text) == (1459210, 314773524)
    assert parse_v2_io_bytes("") == (0, 0)


def test_net_dev_leaves_out_loopback() -> None:
    text = (FIXTURES / "v2/proc/4242/net/dev").read_text()
    assert parse_net_dev(text) == (1643978 + 1000, 249756 + 500)


def test_proc_cgroup_v1_lines_and_the_unified_line() -> None:
    parsed = parse_proc_cgroup("3:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n1:name=systemd:/y\n0::/z\n")
    assert parsed.unified == "/z"
    assert parsed.v1["cpu"] == parsed.v1["cpuacct"] == parsed.v1["memory"] == "/docker/x"
    assert parsed.v1["name=systemd"] == "/y"
    assert parse_proc_cgroup("0::/system.slice/docker-1.scope\n").v1 == {}


def test_host_cpu_like_the_engine_counts_it() -> None:
    total_ns, cpus = host_cpu_ns((FIXTURES / "v1/proc/stat").read_text())
    assert total_ns == HOST_TICKS * 10_000_000  # USER_HZ is 100 on Linux
    assert cpus == 2


def test_candidate_paths_for_both_drivers() -> None:
    assert cgroup_candidates("abc") == ["/docker/abc", "/system.slice/docker-abc.scope"]
    assert cgroup_candidates("abc", "my-apps.slice")[0] == "/my.slice/my-apps.slice/docker-abc.scope"
    assert cgroup_candidates("abc", "/custom/parent")[0] == "/custom/parent/abc"


# -- the reader on fixture trees -------------------------------------------------------------


def test_versions_are_detected() -> None:
    assert detect_cgroup_version(FIXTURES / "v2/sys/fs/cgroup") == 2
    assert detect_cgroup_version(FIXTURES / "v1/sys/fs/cgroup") == 1
    assert detect_cgroup_version(FIXTURES / "nowhere") is None
    assert not CgroupStatsReader(cgroup_root=FIXTURES / "nowhere").usable


def test_v2_container_from_its_init_pid() -> None:
    reading = reader("v2").read(V2_SYSTEMD, 4242)
    assert reading is not None
    assert reading.cpu_total_ns == 8123456 * 1000
    assert reading.system_cpu_ns == HOST_TICKS * 10_000_000
    assert reading.online_cpus == 2
    assert reading.read_ms == 1_000_000
    assert reading.memory_used_bytes == 52428800 - 12582912  # memory.current - inactive_file
    assert reading.memory_limit_bytes == HOST_MEMORY  # "max": the host's memory, as the engine says
    assert (reading.block_read_bytes, reading.block_write_bytes) == (
        1459200 + 90430464,
        314773504 + 299008000,
    )
    assert reading.pids == 3
    assert (reading.network_rx_bytes, reading.network_tx_bytes) == (1643978 + 1000, 249756 + 500)


def test_v2_container_behind_a_cgroup_namespace_in_a_custom_slice() -> None:
    cgroups = reader("v2")
    reading = cgroups.read(V2_SLICE, 5353, cgroup_parent="tidewatch-apps.slice")
    assert reading is not None
    assert reading.cpu_total_ns == 500_000
    assert reading.memory_used_bytes == 1048576 - 4096
    assert reading.memory_limit_bytes == min(268435456, HOST_MEMORY)
    assert (reading.network_rx_bytes, reading.network_tx_bytes) == (0, 0)  # loopback only
    assert not cgroups.stale_pids


def test_v1_cgroupfs_container_from_its_init_pid() -> None:
    reading = reader("v1").read(V1_CGROUPFS, 777)
    assert reading is not None
    assert reading.cpu_total_ns == 2627428630
    assert reading.memory_used_bytes == 2531328 - 1101824  # usage - total_inactive_file
    assert reading.memory_limit_bytes == HOST_MEMORY
    # blkio.io_service_bytes_recursive is empty (no CFQ): the throttle file counts.
    assert (reading.block_read_bytes, reading.block_write_bytes) == (8192, 16384)
    assert reading.pids == 2
    assert reading.network_rx_bytes == 1643978 + 1000


def test_v1_systemd_container_without_a_visible_pid() -> None:
    cgroups = reader("v1")
    reading = cgroups.read(V1_SYSTEMD, 0)
    assert reading is not None
    assert reading.cpu_total_ns == 1000
    assert reading.memory_limit_bytes == min(134217728, HOST_MEMORY)
    assert (reading.network_rx_bytes, reading.network_tx_bytes) == (0, 0)  # no namespace to read


def test_a_reused_pid_is_not_trusted(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "v1", tmp_path / "v1", symlinks=True)
    cgroups = reader("v1", tmp_path)
    assert cgroups.read(V1_CGROUPFS, 777) is not None
    assert not cgroups.stale_pids
    # The container restarted unseen; PID 777 now belongs to a process of another container.
    (tmp_path / "v1/proc/777/cgroup").write_text("4:memory:/docker/someone-else\n0::/docker/someone-else\n")
    cgroups.begin_sample()
    reading = cgroups.read(V1_CGROUPFS, 777)
    assert reading is not None and reading.cpu_total_ns == 2627428630  # its cgroup is still found
    assert reading.network_rx_bytes == 0  # someone else's namespace is not read
    assert cgroups.stale_pids == {V1_CGROUPFS}  # so the collector inspects it again


def test_a_pid_from_another_pid_namespace_is_never_used(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "v1", tmp_path / "v1", symlinks=True)
    # The agent runs in a container without the host's PIDs: 777 is one of its own.
    (tmp_path / "v1/proc/777/cgroup").write_text("0::/\n")
    cgroups = reader("v1", tmp_path)
    for _ in range(2):
        reading = cgroups.read(V1_CGROUPFS, 777)
        assert reading is not None and reading.network_rx_bytes == 0
    # Never seen as the container's, so not a sign of a restart either: no inspect storm.
    assert not cgroups.stale_pids


def test_a_removed_container_reads_as_none_and_is_resolved_again(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "v2", tmp_path / "v2", symlinks=True)
    cgroups = reader("v2", tmp_path)
    assert cgroups.read(V2_SYSTEMD, 4242) is not None
    scope = tmp_path / "v2/sys/fs/cgroup/system.slice" / f"docker-{V2_SYSTEMD}.scope"
    moved = scope.with_name("elsewhere")
    scope.rename(moved)
    assert cgroups.read(V2_SYSTEMD, 4242) is None
    moved.rename(scope)
    assert cgroups.read(V2_SYSTEMD, 4242) is not None
    assert cgroups.read("f" * 64, 0) is None  # never existed


def test_cpu_percent_from_two_fixture_readings(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "v1", tmp_path / "v1", symlinks=True)
    cgroups = reader("v1", tmp_path)
    first = cgroups.read(V1_CGROUPFS, 777)
    # One second later on 2 CPUs (200 ticks): the container used half a CPU.
    usage = tmp_path / "v1/sys/fs/cgroup/cpuacct/docker" / V1_CGROUPFS / "cpuacct.usage"
    usage.write_text(str(2627428630 + 500_000_000))
    stat = tmp_path / "v1/proc/stat"
    stat.write_text(stat.read_text().replace("cpu  60337 ", "cpu  60537 ", 1))
    cgroups.begin_sample()
    second = cgroups.read(V1_CGROUPFS, 777)
    assert first is not None and second is not None
    assert container_cpu_percent(first, second) == pytest.approx(50.0)
