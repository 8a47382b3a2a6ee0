"""Range-query responses: columnar series, one array per field.

Arrays are aligned with ``time_ms`` (bucket start, epoch milliseconds, UTC). A
``null`` is a bucket where a value was missing. Byte counts are floats because
rollups average them.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

__all__ = [
    "ContainerSeries",
    "ContainersSeries",
    "DeviceIoSeries",
    "DiskIoSeries",
    "DiskSeries",
    "HostSeries",
    "InterfaceSeries",
    "MountSeries",
    "NetworkSeries",
    "Resolution",
    "ResolutionChoice",
    "SeriesWindow",
]

# Which data a series was computed from: raw samples, or the 1-minute or 1-hour rollup.
Resolution = Literal["raw", "1m", "1h"]
ResolutionChoice = Literal["auto", "raw", "1m", "1h"]

Values = list[float | None]


class SeriesWindow(Struct, kw_only=True):
    """What a response covers: the range asked for, the data used and the bucket width."""

    vps_id: int
    resolution: Resolution
    step_ms: int
    from_ms: int
    to_ms: int


class HostSeries(SeriesWindow, kw_only=True):
    """Host metrics: CPU %, load, memory and swap bytes, connections, processes."""

    time_ms: list[int]
    cpu_percent: Values
    cpu_percent_max: Values
    cpu_user_percent: Values
    cpu_system_percent: Values
    cpu_iowait_percent: Values
    cpu_steal_percent: Values
    load_1: Values
    load_5: Values
    load_15: Values
    memory_total_bytes: Values
    memory_used_bytes: Values
    memory_available_bytes: Values
    memory_cached_bytes: Values
    swap_total_bytes: Values
    swap_used_bytes: Values
    tcp_connections: Values
    udp_connections: Values
    process_count: Values
    uptime_seconds: Values


class InterfaceSeries(Struct, kw_only=True):
    """One network interface: rates in bytes/s and bytes moved per bucket."""

    interface: str
    time_ms: list[int]
    rx_bytes_per_second: Values
    tx_bytes_per_second: Values
    rx_bytes_per_second_max: Values
    tx_bytes_per_second_max: Values
    rx_bytes: Values
    tx_bytes: Values


class NetworkSeries(SeriesWindow, kw_only=True):
    """Per-interface network traffic."""

    interfaces: list[InterfaceSeries]


class MountSeries(Struct, kw_only=True):
    """One mount point: space and inodes at the end of each bucket."""

    mountpoint: str
    time_ms: list[int]
    used_bytes: Values
    total_bytes: Values
    inodes_used: Values
    inodes_total: Values


class DiskSeries(SeriesWindow, kw_only=True):
    """Per-mount disk usage."""

    mounts: list[MountSeries]


class DeviceIoSeries(Struct, kw_only=True):
    """One block device: throughput in bytes/s and operations/s."""

    device: str
    time_ms: list[int]
    read_bytes_per_second: Values
    write_bytes_per_second: Values
    read_bytes_per_second_max: Values
    write_bytes_per_second_max: Values
    read_ops_per_second: Values
    write_ops_per_second: Values


class DiskIoSeries(SeriesWindow, kw_only=True):
    """Per-device disk I/O."""

    devices: list[DeviceIoSeries]


class ContainerSeries(Struct, kw_only=True):
    """One container: CPU % and memory; ``name`` and ``image`` when known."""

    container_id: str
    name: str
    image: str
    time_ms: list[int]
    cpu_percent: Values
    cpu_percent_max: Values
    memory_usage_bytes: Values
    memory_usage_bytes_max: Values
    memory_limit_bytes: Values
    pids: Values


class ContainersSeries(SeriesWindow, kw_only=True):
    """Per-container resource use."""

    containers: list[ContainerSeries]
