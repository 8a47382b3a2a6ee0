"""HostCollector and its parts: mounts, disk and network rates, sockets, failure isolation."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from agent.collectors.disk_io import DiskIoTracker, is_reported_device
from agent.collectors.host import HostCollector, parse_sockstat, socket_counts
from agent.collectors.mounts import Mount, disk_usage, select_mounts
from agent.collectors.net_io import NetIoTracker


class Disk(NamedTuple):
    read_bytes: int
    write_bytes: int
    read_count: int
    write_count: int


class Nic(NamedTuple):
    bytes_sent: int
    bytes_recv: int
    packets_sent: int = 0
    packets_recv: int = 0
    errin: int = 0
    errout: int = 0
    dropin: int = 0
    dropout: int = 0


# ------------------------------------------------------------------ sockets

SOCKSTAT = """sockets: used 38
TCP: inuse 7 orphan 0 tw 3 alloc 9 mem 26
UDP: inuse 2 mem 0
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
"""
SOCKSTAT6 = """TCP6: inuse 4
UDP6: inuse 1
UDPLITE6: inuse 0
RAW6: inuse 0
FRAG6: inuse 0 memory 0
"""


def test_parse_sockstat() -> None:
    table = parse_sockstat(SOCKSTAT)
    assert table["TCP"] == {"inuse": 7, "orphan": 0, "tw": 3, "alloc": 9, "mem": 26}
    assert table["UDP"]["inuse"] == 2
    assert table["sockets"] == {"used": 38}


def test_socket_counts_add_ipv4_and_ipv6(tmp_path: Path) -> None:
    (tmp_path / "sockstat").write_text(SOCKSTAT)
    (tmp_path / "sockstat6").write_text(SOCKSTAT6)
    assert socket_counts(tmp_path) == (11, 3)


def test_socket_counts_without_ipv6(tmp_path: Path) -> None:
    (tmp_path / "sockstat").write_text(SOCKSTAT)
    assert socket_counts(tmp_path) == (7, 2)


def test_socket_counts_on_this_host_are_sane() -> None:
    tcp, udp = socket_counts()
    assert tcp >= 0 and udp >= 0


# ------------------------------------------------------------------ mounts


def m(device: str, mountpoint: str, fstype: str = "ext4") -> Mount:
    return Mount(device=device, mountpoint=mountpoint, fstype=fstype)


TABLE = [
    m("proc", "/proc", "proc"),
    m("sysfs", "/sys", "sysfs"),
    m("/dev/vda1", "/"),
    m("tmpfs", "/run", "tmpfs"),
    m("overlay", "/var/lib/docker/overlay2/abc/merged", "overlay"),
    m("/dev/loop3", "/snap/core/1", "squashfs"),
    m("/dev/vda1", "/var/lib/docker"),  # bind mount of the root device
    m("/dev/vdb", "/srv/data", "xfs"),
    m("nas:/export", "/mnt/nas", "nfs4"),
    m("cgroup2", "/sys/fs/cgroup", "cgroup2"),
    m("/dev/vdb", "/srv/data", "xfs"),  # the same line twice
]


def test_pseudo_filesystems_and_bind_mount_duplicates_are_skipped() -> None:
    assert [x.mountpoint for x in select_mounts(TABLE)] == ["/", "/srv/data", "/mnt/nas"]


def test_include_and_exclude_globs() -> None:
    assert [x.mountpoint for x in select_mounts(TABLE, include=["/srv/*", "/var/*"])] == [
        "/var/lib/docker",
        "/srv/data",
    ]
    assert [x.mountpoint for x in select_mounts(TABLE, exclude=["/mnt/*"])] == ["/", "/srv/data"]
    # Exclude wins over include.
    assert select_mounts(TABLE, include=["/srv/*"], exclude=["/srv/data"]) == []


def test_disk_usage_from_statvfs() -> None:
    stat = os.statvfs_result((4096, 4096, 1000, 400, 300, 500, 100, 100, 0, 255))
    usage = disk_usage(m("/dev/vda1", "/"), stat)
    assert usage is not None
    assert usage.total_bytes == 1000 * 4096
    assert usage.used_bytes == 600 * 4096
    assert usage.free_bytes == 300 * 4096  # what non-root users can still use, as df shows
    assert (usage.inodes_total, usage.inodes_used) == (500, 400)
    assert (usage.mountpoint, usage.device, usage.fstype) == ("/", "/dev/vda1", "ext4")


def test_filesystem_without_blocks_is_skipped() -> None:
    stat = os.statvfs_result((4096, 4096, 0, 0, 0, 0, 0, 0, 0, 255))
    assert disk_usage(m("none", "/x"), stat) is None


# ------------------------------------------------------------------ disk io


def test_disk_device_selection() -> None:
    whole = frozenset({"vda", "nvme0n1", "loop0", "dm-0", "zram0"})
    assert is_reported_device("vda", whole)
    assert is_reported_device("dm-0", whole)
    assert not is_reported_device("vda1", whole)  # a partition: its bytes are in vda already
    assert not is_reported_device("loop0", whole)
    assert not is_reported_device("ram0", None)
    # Without /sys/block, fall back to name patterns.
    assert is_reported_device("sda", None)
    assert not is_reported_device("sda2", None)
    assert not is_reported_device("nvme0n1p1", None)
    assert is_reported_device("nvme0n1", None)


def test_disk_rates_need_two_readings(tmp_path: Path) -> None:
    for name in ("vda", "loop0"):
        (tmp_path / name).mkdir()
    tracker = DiskIoTracker(sys_block=tmp_path)
    first = {"vda": Disk(1000, 2000, 10, 20), "vda1": Disk(1000, 2000, 10, 20), "loop0": Disk(5, 5, 5, 5)}
    assert tracker.update(first, now_s=10.0) == []
    second = {"vda": Disk(5000, 2000, 30, 20), "vda1": Disk(5000, 2000, 30, 20), "loop0": Disk(9, 9, 9, 9)}
    (stats,) = tracker.update(second, now_s=12.0)
    assert stats.device == "vda"
    assert stats.read_bytes_per_second == 2000.0
    assert stats.write_bytes_per_second == 0.0
    assert stats.read_ops_per_second == 10.0
    assert stats.write_ops_per_second == 0.0


def test_a_new_disk_gets_rates_from_its_second_reading(tmp_path: Path) -> None:
    (tmp_path / "vda").mkdir()
    tracker = DiskIoTracker(sys_block=tmp_path)
    tracker.update({"vda": Disk(0, 0, 0, 0)}, now_s=0.0)
    (tmp_path / "vdb").mkdir()  # hot-plugged
    stats = tracker.update({"vda": Disk(0, 0, 0, 0), "vdb": Disk(100, 0, 1, 0)}, now_s=1.0)
    assert [s.device for s in stats] == ["vda"]
    stats = tracker.update({"vda": Disk(0, 0, 0, 0), "vdb": Disk(300, 0, 2, 0)}, now_s=2.0)
    assert {s.device: s.read_bytes_per_second for s in stats} == {"vda": 0.0, "vdb": 200.0}


# ------------------------------------------------------------------ network


def test_network_rates_deltas_and_raw_counters() -> None:
    tracker = NetIoTracker()
    assert tracker.update({"eth0": Nic(bytes_sent=1000, bytes_recv=5000, errin=1)}, now_s=0.0) == []
    (eth0,) = tracker.update(
        {
            "eth0": Nic(bytes_sent=3000, bytes_recv=9000, packets_sent=4, packets_recv=8, errin=3, dropout=2),
            "lo": Nic(bytes_sent=10**9, bytes_recv=10**9),
            "veth12ab": Nic(bytes_sent=5, bytes_recv=5),
        },
        now_s=2.0,
    )
    assert eth0.interface == "eth0"
    assert eth0.rx_bytes_per_second == 2000.0
    assert eth0.tx_bytes_per_second == 1000.0
    assert eth0.rx_packets_per_second == 4.0
    assert eth0.tx_packets_per_second == 2.0
    assert (eth0.rx_errors, eth0.tx_errors, eth0.rx_drops, eth0.tx_drops) == (2, 0, 0, 2)
    assert (eth0.rx_bytes_delta, eth0.tx_bytes_delta) == (4000, 2000)
    assert (eth0.rx_bytes_counter, eth0.tx_bytes_counter) == (9000, 3000)


def test_network_counter_reset_counts_the_new_value() -> None:
    tracker = NetIoTracker(exclude=())
    tracker.update({"eth0": Nic(bytes_sent=10**12, bytes_recv=10**12)}, now_s=0.0)
    (eth0,) = tracker.update({"eth0": Nic(bytes_sent=700, bytes_recv=1500)}, now_s=1.0)
    assert (eth0.rx_bytes_delta, eth0.tx_bytes_delta) == (1500, 700)
    assert eth0.rx_bytes_per_second == 1500.0


def test_network_interface_exclude_is_configurable() -> None:
    tracker = NetIoTracker(exclude=["docker*"])
    tracker.update({"lo": Nic(0, 0), "docker0": Nic(0, 0)}, now_s=0.0)
    assert [s.interface for s in tracker.update({"lo": Nic(1, 1), "docker0": Nic(1, 1)}, now_s=1.0)] == ["lo"]


# ------------------------------------------------------------------ HostCollector


def test_first_sample_is_none_then_full_snapshots() -> None:
    clock = iter([1_700_000_000.0, 1_700_000_001.5])
    collector = HostCollector(clock=lambda: next(clock))
    try:
        assert collector.sample() is None
        snapshot = collector.sample()
    finally:
        collector.close()
    assert snapshot is not None
    assert snapshot.timestamp_unix_ms == 1_700_000_001_500
    assert 0.0 <= snapshot.cpu_percent <= 100.0
    assert len(snapshot.cpu_per_core_percent) == psutil.cpu_count()
    assert snapshot.memory_total_bytes > snapshot.memory_available_bytes > 0
    assert snapshot.memory_used_bytes > 0
    assert 0 < snapshot.memory_shared_bytes < snapshot.memory_total_bytes  # /dev/shm and tmpfs exist here
    assert snapshot.load_1 >= 0.0
    assert any(d.mountpoint == "/" for d in snapshot.disks)
    assert all(d.fstype not in ("proc", "sysfs", "tmpfs", "overlay") for d in snapshot.disks)
    assert snapshot.process_count > 1
    assert snapshot.uptime_seconds > 0
    assert {n.interface for n in snapshot.network_interfaces}.isdisjoint({"lo"})
    assert collector.disabled_parts == []


def test_a_failing_part_is_logged_once_and_switched_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("meminfo is gone")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    collector = HostCollector()
    with caplog.at_level(logging.ERROR, logger="agent.collectors.host"):
        snapshots = [collector.sample() for _ in range(3)]
    collector.close()
    assert snapshots[0] is None
    assert snapshots[1] is not None and snapshots[2] is not None
    # The rest of the snapshot still arrives.
    assert snapshots[2].process_count > 0
    assert snapshots[2].memory_total_bytes == 0
    assert collector.disabled_parts == ["memory"]
    assert calls == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "'memory'" in errors[0].getMessage()
