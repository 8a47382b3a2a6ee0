"""Per-core CPU, temperatures, custom metrics and online/offline events over a window.

The families the registry's rollups do not cover: each is read from raw rows,
bucketed to the planned step, so a response stays within the point limit but
reaches back only as far as raw retention (7 days by default). ``resolution``
in the response is therefore always ``raw``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from psycopg.rows import tuple_row

from api import paths
from api.auth.guards import requires_viewer
from api.errors import invalid, not_found
from api.metrics.controller import FromParam, ToParam
from api.metrics.resolution import WindowError, resolve_window
from api.metrics.series import build_columnar_query, columns_of, query_params, spec_for
from api.metrics.window import plan_window
from api.resources import Db, statements_alone
from api.vps.controller import VpsId
from common import metric_tables
from common.api_models import CpuCoresSeries, CustomSeries, StatusEventOut, TemperatureSeries
from common.api_models.text import TEXT_PATTERN
from common.problems import Problem

__all__ = ["MAX_CUSTOM_SERIES", "MetricExtrasController", "StatusEventsController"]

# Enough for any dashboard; a host exporting more gets the first ones by name and a flag.
MAX_CUSTOM_SERIES = 200
_RESPONSES = {
    404: ResponseSpec(Problem, description="No such VPS"),
    422: ResponseSpec(Problem, description="Bad from/to or filter"),
}
TEMPERATURES = spec_for(metric_tables.TEMPERATURE)

_CORES = """
SELECT time_bucket(%(step)s, h.time) AS bucket, c.core, avg(c.percent)::double precision AS percent
FROM host_metrics h, unnest(h.cpu_per_core_percent) WITH ORDINALITY AS c (percent, core)
WHERE h.vps_id = %(vps_id)s AND h.time >= %(start)s AND h.time < %(end)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
_CUSTOM = """
WITH picked AS (
    SELECT DISTINCT name, labels FROM generic_metrics
    WHERE vps_id = %(vps_id)s AND time >= %(start)s AND time < %(end)s
      AND (%(name)s::text IS NULL OR name = %(name)s)
    ORDER BY name, labels LIMIT %(limit)s)
SELECT time_bucket(%(step)s, g.time) AS bucket, g.name, g.labels,
       avg(g.value)::double precision AS value, max(g.value)::double precision AS value_max
FROM generic_metrics g JOIN picked p ON g.name = p.name AND g.labels = p.labels
WHERE g.vps_id = %(vps_id)s AND g.time >= %(start)s AND g.time < %(end)s
GROUP BY 1, 2, 3 ORDER BY 2, 3, 1
"""
# The state at the window's start (the newest event before it), then every event inside.
_STATUS_EVENTS = """
(SELECT time, status, reason FROM vps_status_events
 WHERE vps_id = %(vps_id)s AND time < %(start)s ORDER BY time DESC, id DESC LIMIT 1)
UNION ALL
(SELECT time, status, reason FROM vps_status_events
 WHERE vps_id = %(vps_id)s AND time >= %(start)s AND time < %(end)s ORDER BY time, id LIMIT %(limit)s)
ORDER BY time
"""


def cores_matrix(rows: list[dict[str, Any]]) -> tuple[list[int], list[list[float | None]]]:
    """Rows of (bucket, core, percent), ordered by bucket then core, as ``time_ms`` and one row per core."""
    times: list[int] = []
    by_core: dict[int, dict[int, float]] = {}
    for row in rows:
        ms = round(row["bucket"].timestamp() * 1000)
        if not times or times[-1] != ms:
            times.append(ms)
        by_core.setdefault(row["core"], {})[ms] = row["percent"]
    width = max(by_core, default=0)
    return times, [[by_core.get(core, {}).get(t) for t in times] for core in range(1, width + 1)]


class MetricExtrasController(Controller):
    """Families without rollups, read from raw rows at any range."""

    path = paths.VPS_METRICS
    tags = ["metrics"]
    guards = [requires_viewer]

    @get(paths.METRICS_CPU_CORES, operation_id="getCpuCoreMetrics", name="metrics:cpu-cores",
         summary="Per-core CPU busy % history (raw samples)", responses=_RESPONSES)  # fmt: skip
    async def cpu_cores(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None
    ) -> CpuCoresSeries:
        async with statements_alone(db):
            planned = await plan_window(db, state, vps_id, "host_metrics", from_, to, "raw")
            rows = await (await db.execute(_CORES, planned.params())).fetchall()
        times, cores = cores_matrix(rows)
        return msgspec.convert({**planned.fields, "time_ms": times, "cores": cores}, CpuCoresSeries)

    @get(paths.METRICS_TEMPERATURES, operation_id="getTemperatureMetrics", name="metrics:temperatures",
         summary="Per-sensor temperature history in °C (raw samples)", responses=_RESPONSES)  # fmt: skip
    async def temperatures(
        self, vps_id: VpsId, db: Db, state: State, from_: FromParam = None, to: ToParam = None
    ) -> TemperatureSeries:
        async with statements_alone(db):
            planned = await plan_window(db, state, vps_id, TEMPERATURES.table, from_, to, "raw")
            # As the other series routes read theirs (api.metrics.controller): one row per sensor.
            cur = db.cursor(row_factory=tuple_row, binary=True)
            await cur.execute(
                build_columnar_query(TEMPERATURES, planned.plan, live_rollups=planned.live_rollups),
                query_params(vps_id, planned.start, planned.end, planned.plan.step),
            )
            series = columns_of(TEMPERATURES, await cur.fetchall())
        sensors = [{"sensor": key, **columns} for key, columns in series.items()]
        return msgspec.convert({**planned.fields, "sensors": sensors}, TemperatureSeries)

    @get(paths.METRICS_CUSTOM, operation_id="getCustomMetrics", name="metrics:custom",
         summary="Custom metric history, one series per name and label set (raw samples)",
         responses=_RESPONSES)  # fmt: skip
    async def custom(
        self,
        vps_id: VpsId,
        db: Db,
        state: State,
        from_: FromParam = None,
        to: ToParam = None,
        name: Annotated[
            str | None,
            QueryParameter(
                min_length=1, max_length=256, pattern=TEXT_PATTERN, description="Only this metric name"
            ),
        ] = None,
    ) -> CustomSeries:
        async with statements_alone(db):
            planned = await plan_window(db, state, vps_id, "generic_metrics", from_, to, "raw")
            params = {**planned.params(), "name": name, "limit": MAX_CUSTOM_SERIES + 1}
            rows = await (await db.execute(_CUSTOM, params)).fetchall()
        metrics: list[dict[str, Any]] = []
        for row in rows:
            if not metrics or (metrics[-1]["name"], metrics[-1]["labels"]) != (row["name"], row["labels"]):
                metrics.append(
                    {
                        "name": row["name"],
                        "labels": row["labels"],
                        "time_ms": [],
                        "value": [],
                        "value_max": [],
                    }
                )
            series = metrics[-1]
            series["time_ms"].append(round(row["bucket"].timestamp() * 1000))
            series["value"].append(row["value"])
            series["value_max"].append(row["value_max"])
        truncated = len(metrics) > MAX_CUSTOM_SERIES
        body = {**planned.fields, "metrics": metrics[:MAX_CUSTOM_SERIES], "truncated": truncated}
        return msgspec.convert(body, CustomSeries)


class StatusEventsController(Controller):
    """When a VPS went online and offline, for marking charts."""

    path = paths.VPS_BY_ID
    tags = ["vps"]
    guards = [requires_viewer]

    @get(paths.VPS_STATUS_EVENTS, operation_id="listStatusEvents", name="vps:status-events",
         summary="Online/offline events in a window, oldest first, after the last one before it",
         responses=_RESPONSES)  # fmt: skip
    async def status_events(
        self,
        vps_id: VpsId,
        db: Db,
        from_: FromParam = None,
        to: ToParam = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=5000, description="Most events inside the window")
        ] = 500,
    ) -> list[StatusEventOut]:
        try:
            start, end = resolve_window(from_, to, datetime.now(UTC))
        except WindowError as exc:
            raise invalid(exc.field, exc.message) from None
        async with statements_alone(db):
            found = await (await db.execute("SELECT 1 FROM vps WHERE id = %s", (vps_id,))).fetchone()
            if found is None:
                raise not_found("VPS", vps_id)
            params = {"vps_id": vps_id, "start": start, "end": end, "limit": limit}
            rows = await (await db.execute(_STATUS_EVENTS, params)).fetchall()
        return [msgspec.convert(row, StatusEventOut) for row in rows]
