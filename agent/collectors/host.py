"""Host performance snapshots: CPU, memory, disks, network, sockets, processes.

``HostCollector.sample`` returns None on its first call: rates need two
readings, and a first snapshot full of zeros would be a lie. Each part of the
snapshot is its own small collector; one that raises is logged once and
switched off, and the rest of the snapshot is still returned.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from agent.collectors.disk_io import DiskIoTracker
from agent.collectors.mounts import MountUsageReader
from agent.collectors.net_io import DEFAULT_INTERFACE_EXCLUDE, NetIoTracker
from agent.collectors.rates import CpuTimes, busy_percent, cpu_percentages
from agent.host_text import host_text
from proto import agent_pb2

__all__ = ["HostCollector", "parse_sockstat", "socket_counts"]

log = logging.getLogger(__name__)

Fill = Callable[[agent_pb2.PerformanceSnapshot, float], None]


@dataclass
class _Part:
    name: str
    fill: Fill
    enabled: bool = field(default=True)

    def run(self, snapshot: agent_pb2.PerformanceSnapshot, now_s: float) -> None:
        if not self.enabled:
            return
        try:
            self.fill(snapshot, now_s)
        except Exception:
            # The Glances lesson: one broken source must not take the agent down.
            log.exception("host collector %r failed; it is switched off until the agent restarts", self.name)
            self.enabled = False


def parse_sockstat(text: str) -> dict[str, dict[str, int]]:
    """``/proc/net/sockstat`` as ``{"TCP": {"inuse": 5, ...}, ...}``."""
    parsed: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        protocol, _, rest = line.partition(":")
        words = rest.split()
        values: dict[str, int] = {}
        for key, value in zip(words[::2], words[1::2], strict=False):
            if value.isdigit():
                values[key] = int(value)
        if protocol and values:
            parsed[protocol.strip()] = values
    return parsed


def socket_counts(proc_net: Path = Path("/proc/net")) -> tuple[int, int]:
    """Open TCP and UDP sockets, IPv4 plus IPv6, from the kernel's own tallies.

    ``inuse`` counts every TCP state but TIME-WAIT. Reading two tiny files
    instead of walking every socket (``psutil.net_connections``) keeps this
    cheap on busy servers.
    """
    tcp = udp = 0
    for name, tcp_key, udp_key in (("sockstat", "TCP", "UDP"), ("sockstat6", "TCP6", "UDP6")):
        try:
            table = parse_sockstat((proc_net / name).read_text())
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
        tcp += table.get(tcp_key, {}).get("inuse", 0)
        udp += table.get(udp_key, {}).get("inuse", 0)
    return tcp, udp


class _CpuTracker:
    def __init__(self) -> None:
        self._total: CpuTimes | None = None
        self._per_core: list[CpuTimes] = []

    def fill(self, snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
        total = CpuTimes.from_mapping(psutil.cpu_times()._asdict())
        per_core = [CpuTimes.from_mapping(c._asdict()) for c in psutil.cpu_times(percpu=True)]
        previous_total, previous_cores = self._total, self._per_core
        self._total, self._per_core = total, per_core
        if previous_total is None:
            return
        shares = cpu_percentages(previous_total, total)
        snapshot.cpu_percent = shares.busy
        snapshot.cpu_user_percent = shares.user
        snapshot.cpu_system_percent = shares.system
        snapshot.cpu_iowait_percent = shares.iowait
        snapshot.cpu_steal_percent = shares.steal
        if len(previous_cores) == len(per_core):  # unchanged by CPU hotplug
            snapshot.cpu_per_core_percent.extend(
                busy_percent(before, now) for before, now in zip(previous_cores, per_core, strict=True)
            )


def _fill_load(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    snapshot.load_1, snapshot.load_5, snapshot.load_15 = os.getloadavg()


def _fill_memory(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    memory = psutil.virtual_memory()
    snapshot.memory_total_bytes = memory.total
    snapshot.memory_used_bytes = memory.used
    snapshot.memory_available_bytes = memory.available
    snapshot.memory_cached_bytes = getattr(memory, "cached", 0)
    snapshot.memory_buffers_bytes = getattr(memory, "buffers", 0)
    snapshot.memory_shared_bytes = getattr(memory, "shared", 0)
    swap = psutil.swap_memory()
    snapshot.swap_total_bytes = swap.total
    snapshot.swap_used_bytes = swap.used


def _fill_sockets(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    snapshot.tcp_connections, snapshot.udp_connections = socket_counts()


def _fill_processes(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    snapshot.process_count = len(psutil.pids())


def _fill_uptime(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    # The boot clock: no file to read, and immune to wall-clock changes.
    snapshot.uptime_seconds = int(time.clock_gettime(time.CLOCK_BOOTTIME))


def _fill_temperatures(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
    for chip, entries in psutil.sensors_temperatures().items():
        for index, entry in enumerate(entries):
            sensor = host_text(f"{chip}/{entry.label or index}", "temperature_label")
            snapshot.temperatures.add(sensor=sensor, celsius=entry.current)


class HostCollector:
    """Samples the host into ``PerformanceSnapshot`` messages; see the module docstring.

    ``mount_include`` and ``mount_exclude`` are globs on mountpoints;
    ``interface_exclude`` globs on interface names. ``clock`` gives the
    timestamps (Unix seconds); ``monotonic`` the intervals behind every rate.
    """

    def __init__(
        self,
        *,
        mount_include: Sequence[str] = (),
        mount_exclude: Sequence[str] = (),
        interface_exclude: Sequence[str] = DEFAULT_INTERFACE_EXCLUDE,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._primed = False
        self._mounts = MountUsageReader(include=mount_include, exclude=mount_exclude)
        disk_io = DiskIoTracker()
        net_io = NetIoTracker(exclude=interface_exclude)

        def fill_disks(snapshot: agent_pb2.PerformanceSnapshot, _now_s: float) -> None:
            snapshot.disks.extend(self._mounts.read())

        def fill_disk_io(snapshot: agent_pb2.PerformanceSnapshot, now_s: float) -> None:
            counters = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
            snapshot.disk_io.extend(disk_io.update(counters, now_s))

        def fill_network(snapshot: agent_pb2.PerformanceSnapshot, now_s: float) -> None:
            # nowrap=False: we want the raw kernel counters and do reset maths ourselves.
            counters = psutil.net_io_counters(pernic=True, nowrap=False)
            snapshot.network_interfaces.extend(net_io.update(counters, now_s))

        parts: list[tuple[str, Fill]] = [
            ("cpu", _CpuTracker().fill),
            ("load", _fill_load),
            ("memory", _fill_memory),
            ("disks", fill_disks),
            ("disk_io", fill_disk_io),
            ("network", fill_network),
            ("sockets", _fill_sockets),
            ("processes", _fill_processes),
            ("uptime", _fill_uptime),
        ]
        if hasattr(psutil, "sensors_temperatures"):
            parts.append(("temperatures", _fill_temperatures))
        self._parts = [_Part(name, fill) for name, fill in parts]

    def sample(self) -> agent_pb2.PerformanceSnapshot | None:
        """A full snapshot, or None on the first call (it only primes the rates)."""
        snapshot = agent_pb2.PerformanceSnapshot(timestamp_unix_ms=int(self._clock() * 1000))
        now_s = self._monotonic()
        for part in self._parts:
            part.run(snapshot, now_s)
        if not self._primed:
            self._primed = True
            return None
        return snapshot

    @property
    def disabled_parts(self) -> list[str]:
        """Names of the parts switched off after an error."""
        return [part.name for part in self._parts if not part.enabled]

    def close(self) -> None:
        """Release the statvfs worker threads, if any were started."""
        self._mounts.close()
