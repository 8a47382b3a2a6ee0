"""``/api/alerts/events``, ``/summary`` and ``/deliveries``: what fired, and what was sent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from api import paths
from api.alerts.channels import DELIVERY_COLUMNS
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import invalid, not_found
from api.metrics.resolution import WindowError, parse_instant
from api.resources import Connection, Db
from common.api_models.alerts import AlertSummary, DeliveryOut, EventOut
from common.problems import Problem
from common.records import AuditAction

__all__ = ["EventsController"]

EventId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="Event id")]
DeliveryId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="Delivery id")]
_NOT_FOUND = {404: ResponseSpec(Problem, description="No such event")}
_SELECT = """
SELECT e.id, e.rule_id, r.name AS rule_name, r.kind, e.vps_id, e.target_key, e.target_label, e.started_at,
       e.resolved_at, e.value, e.peak_value, e.summary, e.details, e.acknowledged_at, e.acknowledged_by
FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id
"""


async def _fetch(db: Connection, event_id: int) -> EventOut:
    row = await (await db.execute(_SELECT + " WHERE e.id = %s", (event_id,))).fetchone()
    if row is None:
        raise not_found("event", event_id)
    deliveries = await (
        await db.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE event_id = %s ORDER BY id", (event_id,)
        )
    ).fetchall()
    return msgspec.convert({**row, "deliveries": deliveries}, EventOut)


class EventsController(Controller):
    """Event history (also drawn as chart markers), acknowledgement and delivery status."""

    path = paths.ALERTS
    tags = ["alerts"]
    guards = [requires_viewer]

    @get(paths.ALERT_EVENTS, operation_id="listAlertEvents", name="alerts:events",
         summary="Alert events, newest first")  # fmt: skip
    async def list_events(
        self,
        db: Db,
        status: Annotated[
            Literal["firing", "resolved", "all"], QueryParameter(description="Open, resolved or both")
        ] = "all",
        vps_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        rule_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        since: Annotated[
            str | None,
            QueryParameter(
                max_length=64,
                description="Only events still open or resolved after this: ISO-8601 (UTC if no offset)"
                " or epoch milliseconds",
            ),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[EventOut]:
        # Read as the metrics window's from/to are: "0.5" or a date alone is refused, not guessed at.
        try:
            since_at = parse_instant(since, "since") if since is not None else None
        except WindowError as exc:
            raise invalid(exc.field, exc.message) from None
        rows = await (
            await db.execute(
                _SELECT + " WHERE (%(state)s = 'all' OR (%(state)s = 'firing') = (e.resolved_at IS NULL))"
                " AND (%(vps)s::bigint IS NULL OR e.vps_id = %(vps)s)"
                " AND (%(rule)s::bigint IS NULL OR e.rule_id = %(rule)s)"
                " AND (%(since)s::timestamptz IS NULL OR coalesce(e.resolved_at, 'infinity') >= %(since)s)"
                " ORDER BY e.started_at DESC, e.id DESC LIMIT %(limit)s",
                {"state": status, "vps": vps_id, "rule": rule_id, "since": since_at, "limit": limit},
            )
        ).fetchall()
        return [msgspec.convert(r, EventOut) for r in rows]

    @get(paths.ALERT_EVENT_ITEM, operation_id="getAlertEvent", name="alerts:event",
         summary="One event with its deliveries and their attempts", responses=_NOT_FOUND)  # fmt: skip
    async def get_event(self, event_id: EventId, db: Db) -> EventOut:
        return await _fetch(db, event_id)

    @post(paths.ALERT_EVENT_ACK, operation_id="acknowledgeAlertEvent", name="alerts:event-ack",
          summary="Acknowledge: no repeats until it resolves", guards=[requires_operator],
          status_code=200, responses=_NOT_FOUND)  # fmt: skip
    async def acknowledge(self, event_id: EventId, db: Db, request: Request[AuthUser, str, Any]) -> EventOut:
        await _fetch(db, event_id)
        await db.execute(
            "UPDATE alert_events SET acknowledged_at = coalesce(acknowledged_at, now()),"
            " acknowledged_by = coalesce(acknowledged_by, %s) WHERE id = %s",
            (request.user.id, event_id),
        )
        await record_audit(db, request, AuditAction.ALERT_EVENT_ACK, user=request.user,
                           target=f"alert_event:{event_id}")  # fmt: skip
        return await _fetch(db, event_id)

    @get(paths.ALERT_SUMMARY, operation_id="alertSummary", name="alerts:summary",
         summary="How many alerts are firing (the header badge)")  # fmt: skip
    async def summary(self, db: Db) -> AlertSummary:
        row = await (
            await db.execute(
                "SELECT count(*) AS firing, count(*) FILTER (WHERE acknowledged_at IS NULL) AS unacknowledged"
                " FROM alert_events WHERE resolved_at IS NULL"
            )
        ).fetchone()
        assert row is not None
        return AlertSummary(firing=row["firing"], unacknowledged=row["unacknowledged"])

    @get(paths.ALERT_DELIVERY_ITEM, operation_id="getAlertDelivery", name="alerts:delivery",
         summary="One delivery with its attempts",
         responses={404: ResponseSpec(Problem, description="No such delivery")})  # fmt: skip
    async def get_delivery(self, delivery_id: DeliveryId, db: Db) -> DeliveryOut:
        row = await (
            await db.execute(f"SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE id = %s", (delivery_id,))
        ).fetchone()
        if row is None:
            raise not_found("delivery", delivery_id)
        return msgspec.convert(row, DeliveryOut)
