"""``/api/vps/{id}/disk-forecast``: when each mount fills at its recent rate (the
same fit the disk-full rule uses), for the projection on the disk chart."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from api import paths
from api.auth.guards import requires_viewer
from api.errors import not_found
from api.resources import Db
from common.api_models.alerts import DiskForecast
from common.problems import Problem
from common.trend import DISK_TREND_SQL, seconds_until_full

__all__ = ["DiskForecastController"]

VpsId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="VPS id")]


class DiskForecastController(Controller):
    path = paths.VPS
    tags = ["alerts"]
    guards = [requires_viewer]

    @get(paths.VPS_DISK_FORECAST, operation_id="getDiskForecast", name="alerts:disk-forecast",
         summary="When each mount fills at its recent rate",
         responses={404: ResponseSpec(Problem, description="No such VPS")})  # fmt: skip
    async def disk_forecast(
        self,
        vps_id: VpsId,
        db: Db,
        lookback_hours: Annotated[
            float, QueryParameter(gt=0, le=720, description="Hours of history to fit")
        ] = 6.0,
    ) -> list[DiskForecast]:
        now_row = await (await db.execute("SELECT now() AS now, EXISTS (SELECT 1 FROM vps WHERE id = %s) AS found",
                                          (vps_id,))).fetchone()  # fmt: skip
        if now_row is None or not now_row["found"]:
            raise not_found("VPS", vps_id)
        now: datetime = now_row["now"]
        rows = await (
            await db.execute(DISK_TREND_SQL, ([vps_id], lookback_hours * 3600, None, None))
        ).fetchall()
        series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for row in rows:
            series[row["mountpoint"]].append((row["t"], row["used"], row["total"]))

        def fit() -> list[DiskForecast]:
            out = []
            for mount, points in sorted(series.items()):
                left = seconds_until_full([p[0] for p in points], [p[1] for p in points], points[-1][2])
                out.append(
                    DiskForecast(
                        mountpoint=mount,
                        total_bytes=int(points[-1][2]),
                        used_bytes=int(points[-1][1]),
                        hours_until_full=None if left is None else left / 3600.0,
                        full_at=None if left is None else now + timedelta(seconds=left),
                    )
                )
            return out

        # Theil-Sen is O(n^2) in the (capped) points: keep it off the event loop.
        return await asyncio.to_thread(fit)
