"""Pure parsers for the kernel files a container's resource use is read from.

Each takes a file's text and returns numbers, so every format (cgroup v1 and
v2, ``/proc/<pid>/cgroup``, ``/proc/<pid>/net/dev``, ``/proc/stat``) is
unit-tested against fixture files without a kernel that has them.
Formats: Documentation/admin-guide/cgroup-v1/{cpuacct,memory,blkio-controller}.rst,
Documentation/admin-guide/cgroup-v2.rst and Documentation/filesystems/proc.rst.
"""

from __future__ import annotations

import os

__all__ = [
    "ProcCgroups",
    "host_cpu_ns",
    "parse_flat_keyed",
    "parse_limit_bytes",
    "parse_net_dev",
    "parse_proc_cgroup",
    "parse_v1_blkio_bytes",
    "parse_v2_io_bytes",
]

# /proc/stat counts in USER_HZ ticks.
_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cpuacct.stat); lines that are not a number are skipped."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            values[key] = int(value)
        except ValueError:
            continue
    return values


def parse_limit_bytes(text: str) -> int | None:
    """A memory limit: v1 ``memory.limit_in_bytes`` or v2 ``memory.max``; None when unlimited."""
    value = text.strip()
    if not value or value == "max":
        return None
    limit = int(value)
    # v1 writes "no limit" as the largest page-aligned signed 64-bit value.
    return None if limit >= 2**62 else limit


def parse_v1_blkio_bytes(text: str) -> tuple[int, int]:
    """Bytes read and written from ``blkio.*io_service_bytes*`` (``MAJ:MIN Op value`` lines)."""
    read = written = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # "Total N"
        op, value = parts[1].lower(), parts[2]
        if op == "read":
            read += int(value)
        elif op == "write":
            written += int(value)
    return read, written


def parse_v2_io_bytes(text: str) -> tuple[int, int]:
    """Bytes read and written from v2 ``io.stat`` (``MAJ:MIN rbytes=N wbytes=N ...`` lines)."""
    read = written = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                written += int(value)
    return read, written


def parse_net_dev(text: str) -> tuple[int, int]:
    """Bytes received and sent over every interface but loopback, from ``/proc/<pid>/net/dev``.

    Loopback is left out as the engine leaves it out of its stats.
    """
    rx = tx = 0
    for line in text.splitlines()[2:]:  # two header lines
        name, sep, counters = line.partition(":")
        if not sep or name.strip() == "lo":
            continue
        fields = counters.split()
        if len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


class ProcCgroups:
    """``/proc/<pid>/cgroup``: the v2 path (``0::/path``) and v1 paths by controller."""

    __slots__ = ("unified", "v1")

    def __init__(self, unified: str | None, v1: dict[str, str]) -> None:
        self.unified = unified
        self.v1 = v1


def parse_proc_cgroup(text: str) -> ProcCgroups:
    """Parse ``hierarchy-ID:controller-list:path`` lines.

    A v1 line names its controllers (``4:memory:/docker/<id>``, or
    ``3:cpu,cpuacct:/...`` for co-mounted ones); the v2 line has ID 0 and none.
    """
    unified: str | None = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            unified = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return ProcCgroups(unified, v1)


def host_cpu_ns(proc_stat: str) -> tuple[int, int]:
    """The host's CPU time in ns and its online CPU count, from ``/proc/stat``.

    Summed as the Docker engine sums ``system_cpu_usage`` (user through softirq,
    steal excluded), so CPU % means what ``docker stats`` means by it.
    """
    total_ns = 0
    cpus = 0
    for line in proc_stat.splitlines():
        if line.startswith("cpu "):
            total_ns = sum(int(v) for v in line.split()[1:8]) * _TICK_NS
        elif line.startswith("cpu"):
            cpus += 1
        elif cpus:
            break  # the per-CPU lines come first, together
    return total_ns, max(cpus, 1)
