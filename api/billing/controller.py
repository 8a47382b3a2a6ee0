"""Per-VPS billing facts and traffic quota (operators change them), monthly traffic
per VPS and fleet-wide, and the fleet's billing overview."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from api import paths
from api.alerts.validation import check_timezone
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.billing.traffic import QUOTA_SELECT, quota_out, traffic_for
from api.errors import not_found
from api.resources import Connection, Db
from common.api_models.alerts import (
    BillingIn,
    BillingOut,
    TrafficFleetOut,
    TrafficQuotaIn,
    TrafficQuotaOut,
    TrafficVpsOut,
)
from common.problems import Problem
from common.records import AuditAction

__all__ = ["FleetBillingController", "VpsBillingController"]

VpsId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="VPS id")]
Cycles = Annotated[int, QueryParameter(ge=1, le=36, description="How many cycles, the current one included")]
_NOT_FOUND = {404: ResponseSpec(Problem, description="No such VPS (or no billing facts)")}
_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12, "biennial": 24, "triennial": 36}
_BILLING = "SELECT vps_id, provider, price::float8 AS price, currency, cycle, expires_on, auto_renew, notes FROM vps_billing"


def _billing_out(row: dict[str, Any]) -> BillingOut:
    months = _MONTHS.get(row["cycle"])
    price = row["price"]
    expires: date | None = row["expires_on"]
    return msgspec.convert(
        {
            **row,
            "monthly_cost": round(price / months, 2) if price is not None and months else None,
            "days_left": (expires - date.today()).days if expires else None,
        },
        BillingOut,
    )


async def _fetch_billing(db: Connection, vps_id: int) -> BillingOut:
    row = await (await db.execute(_BILLING + " WHERE vps_id = %s", (vps_id,))).fetchone()
    if row is None:
        raise not_found("billing facts of VPS", vps_id)
    return _billing_out(row)


async def _require_vps(db: Connection, vps_id: int) -> dict[str, Any]:
    row = await (await db.execute(QUOTA_SELECT + " WHERE id = %s", (vps_id,))).fetchone()
    if row is None:
        raise not_found("VPS", vps_id)
    return row


class VpsBillingController(Controller):
    path = paths.VPS
    tags = ["billing"]
    guards = [requires_viewer]

    @get(paths.VPS_BILLING, operation_id="getVpsBilling", name="billing:get", summary="A VPS's billing facts",
         responses=_NOT_FOUND)  # fmt: skip
    async def get_billing(self, vps_id: VpsId, db: Db) -> BillingOut:
        return await _fetch_billing(db, vps_id)

    @put(paths.VPS_BILLING, operation_id="putVpsBilling", name="billing:put",
         summary="Set a VPS's provider, price, cycle, expiry and auto-renew", guards=[requires_operator],
         responses=_NOT_FOUND)  # fmt: skip
    async def put_billing(
        self, vps_id: VpsId, data: JSONBody[BillingIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> BillingOut:
        await _require_vps(db, vps_id)
        await db.execute(
            "INSERT INTO vps_billing (vps_id, provider, price, currency, cycle, expires_on, auto_renew, notes)"
            " VALUES (%(vps_id)s, %(provider)s, %(price)s, %(currency)s, %(cycle)s, %(expires_on)s, %(auto_renew)s,"
            " %(notes)s) ON CONFLICT (vps_id) DO UPDATE SET provider = EXCLUDED.provider, price = EXCLUDED.price,"
            " currency = EXCLUDED.currency, cycle = EXCLUDED.cycle, expires_on = EXCLUDED.expires_on,"
            " auto_renew = EXCLUDED.auto_renew, notes = EXCLUDED.notes, updated_at = now()",
            {"vps_id": vps_id, **msgspec.to_builtins(data, builtin_types=(date,))},
        )
        await record_audit(db, request, AuditAction.VPS_BILLING_UPDATE, user=request.user, target=f"vps:{vps_id}",
                           detail=msgspec.to_builtins(data))  # fmt: skip
        return await _fetch_billing(db, vps_id)

    @delete(paths.VPS_BILLING, operation_id="deleteVpsBilling", name="billing:delete",
            summary="Forget a VPS's billing facts", status_code=HTTP_204_NO_CONTENT, guards=[requires_operator],
            responses=_NOT_FOUND)  # fmt: skip
    async def delete_billing(self, vps_id: VpsId, db: Db, request: Request[AuthUser, str, Any]) -> None:
        cur = await db.execute("DELETE FROM vps_billing WHERE vps_id = %s RETURNING vps_id", (vps_id,))
        if await cur.fetchone() is None:
            raise not_found("billing facts of VPS", vps_id)
        await record_audit(
            db, request, AuditAction.VPS_BILLING_DELETE, user=request.user, target=f"vps:{vps_id}"
        )

    @get(paths.VPS_TRAFFIC_QUOTA, operation_id="getVpsTrafficQuota", name="traffic:quota",
         summary="A VPS's monthly traffic quota", responses=_NOT_FOUND)  # fmt: skip
    async def get_quota(self, vps_id: VpsId, db: Db) -> TrafficQuotaOut:
        return quota_out(await _require_vps(db, vps_id))

    @put(paths.VPS_TRAFFIC_QUOTA, operation_id="putVpsTrafficQuota", name="traffic:quota-put",
         summary="Set the monthly quota: bytes, direction, reset day, timezone, warn percentages",
         guards=[requires_operator], responses=_NOT_FOUND)  # fmt: skip
    async def put_quota(
        self, vps_id: VpsId, data: JSONBody[TrafficQuotaIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> TrafficQuotaOut:
        check_timezone(data.timezone, "timezone")
        await _require_vps(db, vps_id)
        await db.execute(
            "UPDATE vps SET traffic_quota_bytes = %s, traffic_quota_direction = %s, traffic_reset_day = %s,"
            " traffic_timezone = %s, traffic_warn_percents = %s WHERE id = %s",
            (
                data.quota_bytes,
                data.direction,
                data.reset_day,
                data.timezone,
                sorted(set(data.warn_percents)),
                vps_id,
            ),
        )
        await record_audit(db, request, AuditAction.VPS_TRAFFIC_QUOTA_UPDATE, user=request.user,
                           target=f"vps:{vps_id}", detail=msgspec.to_builtins(data))  # fmt: skip
        return quota_out(await _require_vps(db, vps_id))

    @get(paths.VPS_TRAFFIC, operation_id="getVpsTraffic", name="traffic:vps",
         summary="Monthly traffic: current cycle, past cycles and the forecast", responses=_NOT_FOUND)  # fmt: skip
    async def get_traffic(self, vps_id: VpsId, db: Db, cycles: Cycles = 6) -> TrafficVpsOut:
        return (await traffic_for(db, [await _require_vps(db, vps_id)], cycles))[0]


class FleetBillingController(Controller):
    path = paths.API
    tags = ["billing"]
    guards = [requires_viewer]

    @get(paths.TRAFFIC, operation_id="getFleetTraffic", name="traffic:fleet",
         summary="Monthly traffic of every VPS, with fleet totals for the current cycles")  # fmt: skip
    async def fleet_traffic(self, db: Db, cycles: Cycles = 1) -> TrafficFleetOut:
        rows = await (await db.execute(QUOTA_SELECT + " ORDER BY id")).fetchall()
        per_vps = await traffic_for(db, rows, cycles)
        return TrafficFleetOut(
            vps=per_vps,
            used_bytes=sum(v.current.used_bytes for v in per_vps),
            projected_bytes=sum(v.projected_bytes for v in per_vps),
        )

    @get(paths.BILLING, operation_id="listBilling", name="billing:list",
         summary="Billing facts of every VPS that has them, soonest expiry first")  # fmt: skip
    async def list_billing(self, db: Db) -> list[BillingOut]:
        rows = await (await db.execute(_BILLING + " ORDER BY expires_on NULLS LAST, vps_id")).fetchall()
        return [_billing_out(r) for r in rows]
