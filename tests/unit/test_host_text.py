"""The one sanitiser for OS-provided strings, and the collectors that route through it."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path
from typing import NamedTuple

import pytest

from agent.collectors.disk_io import DiskIoTracker
from agent.collectors.docker_parse import describe_container
from agent.collectors.generic import GenericMetricsReader
from agent.collectors.host_info import collect_host_info
from agent.collectors.mounts import Mount, disk_usage
from agent.collectors.net_io import NetIoTracker
from agent.host_text import altered_facts, escape, host_text, unescape
from proto import agent_pb2


@pytest.mark.parametrize(
    "clean",
    ["web-01", "", "C:\\odd\\but\\valid", "naïve-ünïcode", "服务器", "emoji 🚀", "tab-free\u00a0nbsp"],
)
def test_clean_text_is_untouched(clean: str) -> None:
    assert host_text(clean, "test_clean") is clean
    assert "test_clean" not in altered_facts()


def test_undecodable_bytes_become_backslash_x_and_come_back() -> None:
    raw = b"bad\xff\xfehost"
    escaped = host_text(raw, "test_bytes")
    assert escaped == "bad\\xff\\xfehost"
    assert host_text(raw.decode("utf-8", "surrogateescape"), "test_bytes") == escaped
    assert os.fsencode(unescape(escaped)) == raw
    assert "test_bytes" in altered_facts()
    agent_pb2.HostInfo(hostname=escaped).SerializeToString()  # protobuf accepts it


def test_control_characters_are_escaped_and_backslashes_kept_apart() -> None:
    text = "eth0\n\x1b[31mred\x7f\x85\\x41"
    escaped = host_text(text, "test_control")
    assert escaped == "eth0\\x0a\\x1b[31mred\\x7f\\u0085\\\\x41"
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in escaped)
    assert unescape(escaped) == text


def test_lone_surrogates_that_are_not_bytes_are_escaped() -> None:
    text = "json\ud800label\udc41"
    escaped = host_text(text, "test_surrogate")
    assert escaped == "json\\ud800label\\udc41"
    assert unescape(escaped) == text


def test_escape_is_reversible_for_any_bytes() -> None:
    rng = random.Random(1234)
    alphabet = [*range(0, 0x20), 0x5C, 0x78, 0x7F, *range(0x80, 0x100), *b"abc/-_.0"]
    for _ in range(3000):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        text = raw.decode("utf-8", "surrogateescape")
        escaped = host_text(text, "test_random")
        escaped.encode("utf-8")  # always valid UTF-8
        restored = unescape(escaped) if escaped != text else text
        assert os.fsencode(restored) == raw
        assert unescape(escape(text)) == text


class _Net(NamedTuple):
    bytes_sent: int = 0
    bytes_recv: int = 0
    packets_sent: int = 0
    packets_recv: int = 0
    errin: int = 0
    errout: int = 0
    dropin: int = 0
    dropout: int = 0


class _Disk(NamedTuple):
    read_bytes: int = 0
    write_bytes: int = 0
    read_count: int = 0
    write_count: int = 0


def _serializes(message: agent_pb2.PerformanceSnapshot) -> None:
    agent_pb2.PerformanceSnapshot.FromString(message.SerializeToString())


def test_collectors_escape_interface_device_and_mount_names(tmp_path: Path) -> None:
    bad = b"x\xff\x01".decode("utf-8", "surrogateescape")
    net = NetIoTracker(exclude=())
    net.update({bad: _Net()}, now_s=1.0)
    (nic,) = net.update({bad: _Net(bytes_recv=10)}, now_s=2.0)
    (tmp_path / bad).mkdir()
    disks = DiskIoTracker(sys_block=tmp_path)
    disks.update({bad: _Disk()}, now_s=1.0)
    (disk,) = disks.update({bad: _Disk(read_bytes=10)}, now_s=2.0)
    usage = disk_usage(
        Mount(device=bad, mountpoint="/srv/" + bad, fstype="ext4"),
        os.statvfs_result((4096, 4096, 10, 5, 5, 10, 5, 5, 0, 255)),
    )
    assert usage is not None
    assert nic.interface == disk.device == usage.device == "x\\xff\\x01"
    assert usage.mountpoint == "/srv/x\\xff\\x01"
    snapshot = agent_pb2.PerformanceSnapshot(network_interfaces=[nic], disk_io=[disk], disks=[usage])
    _serializes(snapshot)
    assert {"network_interface", "disk_device", "mount_point", "filesystem_device"} <= set(altered_facts())


def test_docker_names_labels_and_images_are_escaped() -> None:
    info = describe_container(
        {
            "Id": "abc",
            "Names": ["/web\udcff"],
            "Image": "repo/img\n",
            "Labels": {"owner\x00": "team\ud800"},
        },
        None,
    )
    assert info.name == "web\\xff"
    assert info.image == "repo/img\\x0a"
    assert dict(info.labels) == {"owner\\x00": "team\\ud800"}
    agent_pb2.DockerInfoBatch(containers=[info]).SerializeToString()


def test_generic_metric_labels_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "app.prom").write_text('app_up{path="a\\nb"} 1\n')
    (tmp_path / "app.prom").chmod(stat.S_IRUSR | stat.S_IWUSR)
    reader = GenericMetricsReader(tmp_path)
    try:
        (metric,) = reader.sample()
    finally:
        reader.close()
    assert dict(metric.labels) == {"path": "a\\x0ab"}
    assert "generic_metric" in altered_facts()


def test_host_info_reports_every_fact_escaped_so_far() -> None:
    host_text(b"\xff", "mount_point")
    info = collect_host_info()
    info.SerializeToString()
    assert "mount_point" in info.sanitised_fields


def test_temperature_labels_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    from agent.collectors import host

    class Reading(NamedTuple):
        label: str
        current: float

    reading = Reading(label="Core\udcff 0", current=41.0)
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {"coretemp": [reading]}, raising=False)
    snapshot = agent_pb2.PerformanceSnapshot()
    host._fill_temperatures(snapshot, 0.0)
    assert [t.sensor for t in snapshot.temperatures] == ["coretemp/Core\\xff 0"]
    _serializes(snapshot)
