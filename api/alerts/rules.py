"""``/api/alerts/rules``: operators change rules; everyone reads them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Controller, Request, delete, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from psycopg.types.json import Jsonb

from api import paths
from api.alerts.validation import check_rule
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import conflict, not_found, unmet_rule
from api.resources import Connection, Db
from common.api_models.alerts import RuleIn, RuleOut
from common.problems import Problem
from common.records import AuditAction

__all__ = ["RulesController"]

RuleId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="Rule id")]
_NOT_FOUND = {404: ResponseSpec(Problem, description="No such rule")}
_DUPLICATE = {409: ResponseSpec(Problem, description="The name is taken")}
_SELECT = """
SELECT r.*, coalesce(array_agg(rc.channel_id ORDER BY rc.channel_id) FILTER (WHERE rc.channel_id IS NOT NULL), '{}')
       AS channel_ids
FROM alert_rules r LEFT JOIN alert_rule_channels rc ON rc.rule_id = r.id
"""
_COLUMNS = (
    "name", "kind", "enabled", "scope_vps_id", "scope_labels", "metric", "metric_labels", "comparator",
    "threshold", "duration_s", "resolve_threshold", "resolve_duration_s", "repeat_every_s", "params",
)  # fmt: skip


def _out(row: dict[str, Any]) -> RuleOut:
    return msgspec.convert({k: row[k] for k in RuleOut.__struct_fields__}, RuleOut)


async def _fetch(db: Connection, rule_id: int) -> RuleOut:
    row = await (await db.execute(_SELECT + " WHERE r.id = %s GROUP BY r.id", (rule_id,))).fetchone()
    if row is None:
        raise not_found("rule", rule_id)
    return _out(row)


def _values(data: RuleIn) -> dict[str, Any]:
    values = {k: getattr(data, k) for k in _COLUMNS}
    for key in ("scope_labels", "metric_labels"):
        values[key] = Jsonb(values[key])
    values["params"] = Jsonb(msgspec.to_builtins(data.params))
    return values


async def _link_channels(db: Connection, rule_id: int, channel_ids: list[int]) -> None:
    await db.execute("DELETE FROM alert_rule_channels WHERE rule_id = %s", (rule_id,))
    for index, channel_id in enumerate(dict.fromkeys(channel_ids)):
        try:
            async with db.transaction():
                await db.execute("INSERT INTO alert_rule_channels VALUES (%s, %s)", (rule_id, channel_id))
        except psycopg.errors.ForeignKeyViolation:
            raise unmet_rule(
                f"channel_ids[{index}]", f"channel {channel_id} does not exist", "body"
            ) from None


async def _write(db: Connection, data: RuleIn, rule_id: int | None) -> int:
    check_rule(data)
    values = _values(data)
    try:
        async with db.transaction():
            if rule_id is None:
                cols = ", ".join(_COLUMNS)
                marks = ", ".join(f"%({c})s" for c in _COLUMNS)
                cur = await db.execute(
                    f"INSERT INTO alert_rules ({cols}) VALUES ({marks}) RETURNING id", values
                )
            else:
                sets = ", ".join(f"{c} = %({c})s" for c in _COLUMNS)
                cur = await db.execute(
                    f"UPDATE alert_rules SET {sets}, updated_at = now() WHERE id = %(id)s RETURNING id",
                    {**values, "id": rule_id},
                )
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise conflict(f"a rule named {data.name!r} already exists", "name") from None
    except psycopg.errors.ForeignKeyViolation:
        raise unmet_rule("scope_vps_id", f"VPS {data.scope_vps_id} does not exist", "body") from None
    if row is None:
        raise not_found("rule", rule_id)
    await _link_channels(db, row["id"], data.channel_ids)
    return int(row["id"])


class RulesController(Controller):
    """Alert rules: offline, threshold, traffic quota, disk-full and renewal."""

    path = paths.ALERT_RULES
    tags = ["alerts"]
    guards = [requires_viewer]

    @get(operation_id="listAlertRules", name="alerts:rules", summary="List alert rules")
    async def list_rules(self, db: Db) -> list[RuleOut]:
        rows = await (await db.execute(_SELECT + " GROUP BY r.id ORDER BY r.id")).fetchall()
        return [_out(r) for r in rows]

    @get(paths.ALERT_RULE_ITEM, operation_id="getAlertRule", name="alerts:rule", summary="One alert rule",
         responses=_NOT_FOUND)  # fmt: skip
    async def get_rule(self, rule_id: RuleId, db: Db) -> RuleOut:
        return await _fetch(db, rule_id)

    @post(operation_id="createAlertRule", name="alerts:rule-create", summary="Create an alert rule",
          guards=[requires_operator], responses=_DUPLICATE)  # fmt: skip
    async def create_rule(
        self, data: JSONBody[RuleIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> RuleOut:
        rule_id = await _write(db, data, None)
        await record_audit(db, request, AuditAction.ALERT_RULE_CREATE, user=request.user,
                           target=f"alert_rule:{rule_id}", detail=msgspec.to_builtins(data))  # fmt: skip
        return await _fetch(db, rule_id)

    @put(paths.ALERT_RULE_ITEM, operation_id="replaceAlertRule", name="alerts:rule-replace",
         summary="Replace an alert rule", guards=[requires_operator], responses=_NOT_FOUND | _DUPLICATE)  # fmt: skip
    async def replace_rule(
        self, rule_id: RuleId, data: JSONBody[RuleIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> RuleOut:
        await _write(db, data, rule_id)
        await record_audit(db, request, AuditAction.ALERT_RULE_UPDATE, user=request.user,
                           target=f"alert_rule:{rule_id}", detail=msgspec.to_builtins(data))  # fmt: skip
        return await _fetch(db, rule_id)

    @delete(paths.ALERT_RULE_ITEM, operation_id="deleteAlertRule", name="alerts:rule-delete",
            summary="Delete an alert rule and its events", status_code=HTTP_204_NO_CONTENT,
            guards=[requires_operator], responses=_NOT_FOUND)  # fmt: skip
    async def delete_rule(self, rule_id: RuleId, db: Db, request: Request[AuthUser, str, Any]) -> None:
        row = await (
            await db.execute("DELETE FROM alert_rules WHERE id = %s RETURNING name", (rule_id,))
        ).fetchone()
        if row is None:
            raise not_found("rule", rule_id)
        await record_audit(db, request, AuditAction.ALERT_RULE_DELETE, user=request.user,
                           target=f"alert_rule:{rule_id}", detail={"name": row["name"]})  # fmt: skip
