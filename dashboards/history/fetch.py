"""Everything the history charts show for one window, read from the API in parallel.

The host series is required (its failure is the page's error); every other family
is optional: a failure there leaves that family empty, and says so, rather than
blanking the page. An expired session is never swallowed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from common.api_models import (
    ContainersSeries,
    CpuCoresSeries,
    CustomSeries,
    DiskIoSeries,
    DiskSeries,
    HostSeries,
    NetworkSeries,
    StatusEventOut,
    TemperatureSeries,
)
from dashboards.client import ApiClient, ApiError

__all__ = ["HistoryData", "fetch_history"]

T = TypeVar("T")
# Calls in flight per page view: the API's pool is shared with every other viewer.
PARALLEL_CALLS = 4


@dataclass(frozen=True, slots=True)
class HistoryData:
    """One window of every family; ``None`` where a family could not be read."""

    host: HostSeries
    cores: CpuCoresSeries | None
    network: NetworkSeries | None
    disks: DiskSeries | None
    disk_io: DiskIoSeries | None
    containers: ContainersSeries | None
    temperatures: TemperatureSeries | None
    custom: CustomSeries | None
    events: list[StatusEventOut] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def fetch_history(client: ApiClient, token: str, vps_id: int, from_ms: int, to_ms: int) -> HistoryData:
    """Read every family for ``[from_ms, to_ms)``; raises ApiError only for the host series
    or an expired session."""

    def series(kind: str, result: type[T]) -> Callable[[], T]:
        return lambda: client.series_between(token, vps_id, kind, result, from_ms, to_ms)

    calls: dict[str, Callable[[], Any]] = {
        "host": series("host", HostSeries),
        "cores": series("cpu-cores", CpuCoresSeries),
        "network": series("network", NetworkSeries),
        "disks": series("disks", DiskSeries),
        "disk_io": series("diskio", DiskIoSeries),
        "containers": series("containers", ContainersSeries),
        "temperatures": series("temperatures", TemperatureSeries),
        "custom": series("custom", CustomSeries),
        "events": lambda: client.status_events(token, vps_id, from_ms, to_ms),
    }
    with ThreadPoolExecutor(PARALLEL_CALLS, thread_name_prefix="history") as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
    host = futures.pop("host").result()  # raises: the page cannot stand without it
    got: dict[str, Any] = {}
    failures: list[str] = []
    for name, future in futures.items():
        try:
            got[name] = future.result()
        except ApiError as exc:
            if exc.unauthorized:
                raise
            got[name] = None
            failures.append(f"{name}: {exc.detail}")
    events = got.pop("events") or []
    return HistoryData(host=host, events=events, failures=failures, **got)
