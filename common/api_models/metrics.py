"""Range-query responses: columnar series, one array per field.

Arrays are aligned with ``time_ms`` (bucket start, epoch milliseconds, UTC). A
``null`` is a bucket where a value was missing. Byte counts are floats because
rollups average them.

The per-series Structs are built from the metric registry (``common.metric_tables``)
when the module loads: one array per registry output, in the registry's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from msgspec import Struct, defstruct

from common import metric_tables
from common.metric_tables import MetricTable

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
    "SensorSeries",
    "SeriesWindow",
    "TemperatureSeries",
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


def _series_struct(
    name: str, doc: str, table: MetricTable, key: tuple[str, ...] = (), base: type[Struct] = Struct
) -> type[Struct]:
    """A Struct with ``key`` (text), ``time_ms`` and one ``Values`` array per registry output, in order."""
    fields: list[tuple[str, Any]] = [(k, str) for k in key]
    fields += [("time_ms", list[int])] + [(o.name, Values) for o in table.outputs]
    return defstruct(name, fields, bases=(base,), kw_only=True, module=__name__, namespace={"__doc__": doc})


if TYPE_CHECKING:
    # Built from the registry below; to the type checker, every metric array is ``Values``.
    class _Arrays(Struct, kw_only=True):
        time_ms: list[int]

        def __getattr__(self, name: str) -> Values: ...

    class HostSeries(SeriesWindow, kw_only=True):
        time_ms: list[int]

        def __getattr__(self, name: str) -> Values: ...

    class InterfaceSeries(_Arrays, kw_only=True):
        interface: str

    class MountSeries(_Arrays, kw_only=True):
        mountpoint: str

    class DeviceIoSeries(_Arrays, kw_only=True):
        device: str

    class ContainerSeries(_Arrays, kw_only=True):
        container_id: str
        name: str
        image: str

    class SensorSeries(_Arrays, kw_only=True):
        sensor: str

else:
    HostSeries = _series_struct(
        "HostSeries",
        "Host metrics: CPU %, load, memory and swap bytes, connections, processes.",
        metric_tables.HOST,
        base=SeriesWindow,
    )
    InterfaceSeries = _series_struct(
        "InterfaceSeries",
        "One network interface: rates in bytes/s and bytes moved per bucket.",
        metric_tables.NETWORK,
        ("interface",),
    )
    MountSeries = _series_struct(
        "MountSeries",
        "One mount point: space and inodes at the end of each bucket.",
        metric_tables.DISK,
        ("mountpoint",),
    )
    DeviceIoSeries = _series_struct(
        "DeviceIoSeries",
        "One block device: throughput in bytes/s and operations/s.",
        metric_tables.DISK_IO,
        ("device",),
    )
    ContainerSeries = _series_struct(
        "ContainerSeries",
        "One container: CPU % and memory; ``name`` and ``image`` when known.",
        metric_tables.CONTAINER,
        ("container_id", "name", "image"),
    )
    SensorSeries = _series_struct(
        "SensorSeries",
        "One temperature sensor: average and highest °C in each bucket (raw samples only).",
        metric_tables.TEMPERATURE,
        ("sensor",),
    )


class NetworkSeries(SeriesWindow, kw_only=True):
    """Per-interface network traffic."""

    interfaces: list[InterfaceSeries]


class DiskSeries(SeriesWindow, kw_only=True):
    """Per-mount disk usage."""

    mounts: list[MountSeries]


class DiskIoSeries(SeriesWindow, kw_only=True):
    """Per-device disk I/O."""

    devices: list[DeviceIoSeries]


class ContainersSeries(SeriesWindow, kw_only=True):
    """Per-container resource use."""

    containers: list[ContainerSeries]


class TemperatureSeries(SeriesWindow, kw_only=True):
    """Per-sensor temperatures; empty when the host reports no sensors."""

    sensors: list[SensorSeries]
