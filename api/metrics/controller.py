"""``/api/vps/{id}/metrics/*``: history at the resolution the range calls for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from psycopg.rows import tuple_row

from api import paths
from api.auth.guards import requires_viewer
from api.metrics.encoding import json_response
from api.metrics.series import (
    CONTAINER_LABELS,
    CONTAINERS,
    DISKIO,
    DISKS,
    HOST,
    NETWORK,
    SeriesLabels,
    SeriesSpec,
    build_columnar_query,
    columns_of,
    query_params,
)
from api.metrics.window import plan_window
from api.resources import Connection, Db, statements_alone
from api.vps.controller import VpsId
from common.api_models import (
    ContainerSeries,
    ContainersSeries,
    DeviceIoSeries,
    DiskIoSeries,
    DiskSeries,
    HostSeries,
    InterfaceSeries,
    MountSeries,
    NetworkSeries,
)
from common.api_models.metrics import ResolutionChoice
from common.problems import Problem

__all__ = ["FromParam", "MetricsController", "ToParam"]

T = TypeVar("T")

_RANGE_DOC = "ISO-8601 (UTC if no offset) or epoch milliseconds"
FromParam = Annotated[
    str | None,
    QueryParameter(name="from", max_length=64, description=f"Range start, {_RANGE_DOC}; default to - 1h"),
]
ToParam = Annotated[
    str | None, QueryParameter(name="to", max_length=64, description=f"Range end, {_RANGE_DOC}; default now")
]
ResolutionParam = Annotated[
    ResolutionChoice,
    QueryParameter(description="auto picks raw, 1m or 1h from the range width (see docs/api.md)"),
]
_RESPONSES = {
    404: ResponseSpec(Problem, description="No such VPS"),
    422: ResponseSpec(Problem, description="Bad from/to/resolution"),
}


async def _query(
    db: Connection,
    state: State,
    vps_id: int,
    spec: SeriesSpec,
    from_: str | None,
    to: str | None,
    resolution: ResolutionChoice,
    labels: SeriesLabels | None = None,
) -> tuple[dict[str, Any], dict[str | None, dict[str, Any]]]:
    """The response's window fields and the columns of each series (one round trip, usually)."""
    planned = await plan_window(db, state, vps_id, spec.table, from_, to, resolution, defer_existence=True)
    # One row per series, one array per column: psycopg's binary array loader (C) builds
    # the lists, with no tuple per bucket and no transposing here.
    cur = db.cursor(row_factory=tuple_row, binary=True)
    await cur.execute(
        build_columnar_query(spec, planned.plan, live_rollups=planned.live_rollups, labels=labels),
        query_params(vps_id, planned.start, planned.end, planned.plan.step),
    )
    rows = await cur.fetchall()
    if not rows:
        await planned.ensure_exists(db)
    return planned.fields, columns_of(spec, rows, labels)


def _grouped(
    result: type[T],
    item: Callable[..., Any],
    field: str,
    key: str,
    window: dict[str, Any],
    series: dict[str | None, dict[str, Any]],
) -> T:
    """A response with one columnar object per series, each named by ``key``.

    Built directly, not through ``msgspec.convert``: the values come from our own
    query (double precision or NULL, epoch-ms integers), so checking each again
    only costs time."""
    items = [item(**{key: name}, **columns) for name, columns in series.items()]
    return result(**window, **{field: items})


class MetricsController(Controller):
    """Columnar series for charts; every series holds at most max_points_per_series points."""

    path = paths.VPS_METRICS
    tags = ["metrics"]
    guards = [requires_viewer]

    @get(paths.METRICS_HOST, operation_id="getHostMetrics", name="metrics:host",
         summary="CPU, load, memory, swap and process history", responses=_RESPONSES)  # fmt: skip
    async def host(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None,
        resolution: ResolutionParam = "auto",
    ) -> Response[HostSeries]:  # fmt: skip
        async with statements_alone(db):
            window, series = await _query(db, state, vps_id, HOST, from_, to, resolution)
        columns = series.get(None) or {"time_ms": [], **{f.name: [] for f in HOST.fields}}
        return json_response(HostSeries(**window, **columns))

    @get(paths.METRICS_NETWORK, operation_id="getNetworkMetrics", name="metrics:network",
         summary="Per-interface traffic history (bytes/s)", responses=_RESPONSES)  # fmt: skip
    async def network(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None,
        resolution: ResolutionParam = "auto",
    ) -> Response[NetworkSeries]:  # fmt: skip
        async with statements_alone(db):
            window, series = await _query(db, state, vps_id, NETWORK, from_, to, resolution)
        return json_response(
            _grouped(NetworkSeries, InterfaceSeries, "interfaces", "interface", window, series)
        )

    @get(paths.METRICS_DISKS, operation_id="getDiskMetrics", name="metrics:disks",
         summary="Per-mount disk space history", responses=_RESPONSES)  # fmt: skip
    async def disks(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None,
        resolution: ResolutionParam = "auto",
    ) -> Response[DiskSeries]:  # fmt: skip
        async with statements_alone(db):
            window, series = await _query(db, state, vps_id, DISKS, from_, to, resolution)
        return json_response(_grouped(DiskSeries, MountSeries, "mounts", "mountpoint", window, series))

    @get(paths.METRICS_DISKIO, operation_id="getDiskIoMetrics", name="metrics:diskio",
         summary="Per-device disk throughput history", responses=_RESPONSES)  # fmt: skip
    async def diskio(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None,
        resolution: ResolutionParam = "auto",
    ) -> Response[DiskIoSeries]:  # fmt: skip
        async with statements_alone(db):
            window, series = await _query(db, state, vps_id, DISKIO, from_, to, resolution)
        return json_response(_grouped(DiskIoSeries, DeviceIoSeries, "devices", "device", window, series))

    @get(paths.METRICS_CONTAINERS, operation_id="getContainerMetrics", name="metrics:containers",
         summary="Per-container CPU and memory history", responses=_RESPONSES)  # fmt: skip
    async def containers(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None,
        resolution: ResolutionParam = "auto",
    ) -> Response[ContainersSeries]:  # fmt: skip
        # Names and images come with the series, in one statement (CONTAINER_LABELS).
        async with statements_alone(db):
            window, series = await _query(
                db, state, vps_id, CONTAINERS, from_, to, resolution, CONTAINER_LABELS
            )
        return json_response(
            _grouped(ContainersSeries, ContainerSeries, "containers", "container_id", window, series)
        )
