"""``/api/alerts/silences``: mute windows, one-off or recurring (cron in a timezone)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Controller, Request, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from api import paths
from api.alerts.validation import check_silence
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import not_found, unmet_rule
from api.resources import Db
from common.api_models.alerts import SilenceIn, SilenceOut
from common.problems import Problem
from common.records import AuditAction
from common.silence_window import silence_active

__all__ = ["SilencesController"]

SilenceId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="Silence id")]
_COLUMNS = "id, rule_id, vps_id, starts_at, ends_at, cron, duration_s, timezone, comment, created_at"


def _out(row: dict[str, Any], now: datetime) -> SilenceOut:
    return msgspec.convert({**row, "active": silence_active(row, now)}, SilenceOut)


class SilencesController(Controller):
    path = paths.ALERT_SILENCES
    tags = ["alerts"]
    guards = [requires_viewer]

    @get(
        operation_id="listAlertSilences",
        name="alerts:silences",
        summary="List silences and whether each is active",
    )
    async def list_silences(self, db: Db) -> list[SilenceOut]:
        rows = await (await db.execute(f"SELECT {_COLUMNS} FROM alert_silences ORDER BY id")).fetchall()
        now = datetime.now(UTC)
        return [_out(r, now) for r in rows]

    @post(operation_id="createAlertSilence", name="alerts:silence-create", summary="Create a silence",
          guards=[requires_operator])  # fmt: skip
    async def create_silence(
        self, data: JSONBody[SilenceIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> SilenceOut:
        check_silence(data)
        try:
            async with db.transaction():
                row = await (
                    await db.execute(
                        "INSERT INTO alert_silences (rule_id, vps_id, starts_at, ends_at, cron, duration_s, timezone,"
                        f" comment, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                        (
                            data.rule_id,
                            data.vps_id,
                            data.starts_at,
                            data.ends_at,
                            data.cron,
                            data.duration_s,
                            data.timezone,
                            data.comment,
                            request.user.id,
                        ),
                    )
                ).fetchone()
        except psycopg.errors.ForeignKeyViolation as exc:
            field = "rule_id" if "rule" in str(exc) else "vps_id"
            raise unmet_rule(field, f"{field.removesuffix('_id')} does not exist", "body") from None
        assert row is not None
        await record_audit(db, request, AuditAction.ALERT_SILENCE_CREATE, user=request.user,
                           target=f"alert_silence:{row['id']}", detail=msgspec.to_builtins(data))  # fmt: skip
        return _out(row, datetime.now(UTC))

    @delete(paths.ALERT_SILENCE_ITEM, operation_id="deleteAlertSilence", name="alerts:silence-delete",
            summary="Delete a silence", status_code=HTTP_204_NO_CONTENT, guards=[requires_operator],
            responses={404: ResponseSpec(Problem, description="No such silence")})  # fmt: skip
    async def delete_silence(
        self, silence_id: SilenceId, db: Db, request: Request[AuthUser, str, Any]
    ) -> None:
        row = await (
            await db.execute("DELETE FROM alert_silences WHERE id = %s RETURNING id", (silence_id,))
        ).fetchone()
        if row is None:
            raise not_found("silence", silence_id)
        await record_audit(db, request, AuditAction.ALERT_SILENCE_DELETE, user=request.user,
                           target=f"alert_silence:{silence_id}")  # fmt: skip
