"""The window and plan of one range query: parsed ``from``/``to``, the VPS checked, the tier chosen.

Every metrics endpoint starts here; what it then selects is its own business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.datastructures import State

from api.errors import invalid, not_found
from api.metrics.context import retention, vps_exists
from api.metrics.resolution import Coverage, Plan, WindowError, choose_plan, resolve_window
from api.resources import Connection, get_resources
from common.api_models.metrics import ResolutionChoice
from common.edition import Edition

__all__ = ["PlannedWindow", "plan_window"]


@dataclass(frozen=True, slots=True)
class PlannedWindow:
    """``[start, end)``, the plan that answers it, and whether rollups are real-time aggregates."""

    vps_id: int
    start: datetime
    end: datetime
    plan: Plan
    live_rollups: bool

    @property
    def fields(self) -> dict[str, Any]:
        """The response's ``SeriesWindow`` fields."""
        return {
            "vps_id": self.vps_id,
            "resolution": self.plan.resolution,
            "step_ms": int(self.plan.step.total_seconds() * 1000),
            "from_ms": round(self.start.timestamp() * 1000),
            "to_ms": round(self.end.timestamp() * 1000),
        }

    async def ensure_exists(self, db: Connection) -> None:
        """404 unless the VPS exists (for callers that deferred the check)."""
        if not await vps_exists(db, self.vps_id):
            raise not_found("VPS", self.vps_id)

    def params(self) -> dict[str, Any]:
        """Query parameters ``vps_id``, ``start``, ``end`` and ``step``."""
        return {"vps_id": self.vps_id, "start": self.start, "end": self.end, "step": self.plan.step}


async def plan_window(
    db: Connection,
    state: State,
    vps_id: int,
    table: str,
    from_: str | None,
    to: str | None,
    resolution: ResolutionChoice,
    *,
    defer_existence: bool = False,
) -> PlannedWindow:
    """Parse the window (422 naming the field), check the VPS (404) and plan the read of ``table``.

    ``resolution="raw"`` for a table without rollups: the step still grows to keep the point limit.
    With ``defer_existence`` the caller checks the VPS itself (``ensure_exists``), e.g. only
    when its rows come back empty, saving a round trip on the common path.
    """
    now = datetime.now(UTC)
    try:
        start, end = resolve_window(from_, to, now)
    except WindowError as exc:
        raise invalid(exc.field, exc.message) from None
    if not defer_existence and not await vps_exists(db, vps_id):
        raise not_found("VPS", vps_id)
    keep = await retention(db, table)
    res = get_resources(state)
    coverage = Coverage(now=now, raw_keep=keep.raw_keep, keep_1m=keep.keep_1m)
    plan = choose_plan(start, end, resolution, res.settings.max_points_per_series, coverage)
    live_rollups = await res.edition(db) is Edition.COMMUNITY
    return PlannedWindow(vps_id, start, end, plan, live_rollups)
