"""Throughput per block device (``DiskIoStats``) from two readings of the kernel counters.

Whole disks only: partitions would count the same bytes twice, and loop, ram
and floppy devices are noise. A disk that appears between two readings gets
its first rate on the next one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from agent.collectors.rates import counter_rate
from agent.host_text import host_text
from proto import agent_pb2

__all__ = ["DiskIoCounters", "DiskIoTracker", "is_reported_device"]

_IGNORED_DEVICE = re.compile(r"^(ram|loop|fd)\d+$")
# Used only when /sys/block cannot be listed.
_PARTITION = re.compile(r"^((h|s|v|xv)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$")


class DiskIoCounters(Protocol):
    """The fields of ``psutil.disk_io_counters(perdisk=True)`` that we use."""

    @property
    def read_bytes(self) -> int: ...
    @property
    def write_bytes(self) -> int: ...
    @property
    def read_count(self) -> int: ...
    @property
    def write_count(self) -> int: ...


def is_reported_device(name: str, whole_disks: frozenset[str] | None) -> bool:
    """Whether to report a device; ``whole_disks`` is the listing of /sys/block, if readable."""
    if _IGNORED_DEVICE.match(name):
        return False
    if whole_disks is not None:
        return name in whole_disks
    return not _PARTITION.match(name)


class DiskIoTracker:
    """Keeps the previous reading per device and turns the next one into rates."""

    def __init__(self, *, sys_block: Path = Path("/sys/block")) -> None:
        self._sys_block = sys_block
        self._whole_disks: frozenset[str] | None = None
        self._known: set[str] = set()
        self._previous: dict[str, tuple[float, int, int, int, int]] = {}

    def update(self, counters: Mapping[str, DiskIoCounters], now_s: float) -> list[agent_pb2.DiskIoStats]:
        """Rates since the previous call for every device seen both times."""
        if not self._known.issuperset(counters):
            # A new device (or the first call): list /sys/block again.
            self._whole_disks = self._list_whole_disks()
            self._known = set(counters)
        stats: list[agent_pb2.DiskIoStats] = []
        previous, self._previous = self._previous, {}
        for name, c in counters.items():
            if not is_reported_device(name, self._whole_disks):
                continue
            current = (now_s, c.read_bytes, c.write_bytes, c.read_count, c.write_count)
            self._previous[name] = current
            before = previous.get(name)
            if before is None:
                continue
            seconds = now_s - before[0]
            stats.append(
                agent_pb2.DiskIoStats(
                    device=host_text(name, "disk_device"),
                    read_bytes_per_second=counter_rate(before[1], current[1], seconds),
                    write_bytes_per_second=counter_rate(before[2], current[2], seconds),
                    read_ops_per_second=counter_rate(before[3], current[3], seconds),
                    write_ops_per_second=counter_rate(before[4], current[4], seconds),
                )
            )
        return stats

    def _list_whole_disks(self) -> frozenset[str] | None:
        try:
            return frozenset(os.listdir(self._sys_block))
        except OSError:
            return None
