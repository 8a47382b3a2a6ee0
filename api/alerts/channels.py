"""``/api/alerts/channels``: where notifications go. Secrets are write-only."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Controller, Request, delete, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from psycopg.types.json import Jsonb

from api import paths
from api.alerts.validation import check_channel
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import conflict, not_found
from api.resources import Connection, Db
from common.api_models.alerts import ChannelIn, ChannelOut, DeliveryOut
from common.problems import Problem
from common.records import AuditAction

__all__ = ["DELIVERY_COLUMNS", "ChannelsController"]

ChannelId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="Channel id")]
_NOT_FOUND = {404: ResponseSpec(Problem, description="No such channel")}
_DUPLICATE = {409: ResponseSpec(Problem, description="The name is taken")}
# Never select `secret` itself: only which keys it holds.
_SELECT = (
    "SELECT id, name, kind, config, enabled, created_at,"
    " ARRAY(SELECT jsonb_object_keys(secret) ORDER BY 1) AS secret_keys FROM alert_channels"
)
DELIVERY_COLUMNS = "id, event_id, channel_id, transition, status, attempts, attempt_log, next_attempt_at, sent_at, created_at"


def _out(row: dict[str, Any]) -> ChannelOut:
    return msgspec.convert(row, ChannelOut)


async def _fetch(db: Connection, channel_id: int) -> ChannelOut:
    row = await (await db.execute(_SELECT + " WHERE id = %s", (channel_id,))).fetchone()
    if row is None:
        raise not_found("channel", channel_id)
    return _out(row)


def _audit_detail(data: ChannelIn) -> dict[str, Any]:
    detail: dict[str, Any] = msgspec.to_builtins(data)
    if isinstance(data.secret, dict):
        detail["secret"] = sorted(data.secret)  # which keys changed, never the values
    return detail


class ChannelsController(Controller):
    """Email, webhook, Telegram, Discord and Slack channels; test sends; delivery status."""

    path = paths.ALERT_CHANNELS
    tags = ["alerts"]
    guards = [requires_viewer]

    @get(
        operation_id="listAlertChannels",
        name="alerts:channels",
        summary="List channels (secrets never shown)",
    )
    async def list_channels(self, db: Db) -> list[ChannelOut]:
        return [_out(r) for r in await (await db.execute(_SELECT + " ORDER BY id")).fetchall()]

    @get(paths.ALERT_CHANNEL_ITEM, operation_id="getAlertChannel", name="alerts:channel", summary="One channel",
         responses=_NOT_FOUND)  # fmt: skip
    async def get_channel(self, channel_id: ChannelId, db: Db) -> ChannelOut:
        return await _fetch(db, channel_id)

    @post(operation_id="createAlertChannel", name="alerts:channel-create", summary="Create a channel",
          guards=[requires_operator], responses=_DUPLICATE)  # fmt: skip
    async def create_channel(
        self, data: JSONBody[ChannelIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> ChannelOut:
        secret = data.secret if isinstance(data.secret, dict) else {}
        check_channel(data, set(secret))
        try:
            async with db.transaction():
                row = await (
                    await db.execute(
                        "INSERT INTO alert_channels (name, kind, config, secret, enabled, created_by)"
                        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                        (
                            data.name,
                            data.kind,
                            Jsonb(data.config),
                            Jsonb(secret),
                            data.enabled,
                            request.user.id,
                        ),
                    )
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise conflict(f"a channel named {data.name!r} already exists", "name") from None
        assert row is not None
        await record_audit(db, request, AuditAction.ALERT_CHANNEL_CREATE, user=request.user,
                           target=f"alert_channel:{row['id']}", detail=_audit_detail(data))  # fmt: skip
        return await _fetch(db, row["id"])

    @put(paths.ALERT_CHANNEL_ITEM, operation_id="replaceAlertChannel", name="alerts:channel-replace",
         summary="Replace a channel; an absent secret keeps the stored one", guards=[requires_operator],
         responses=_NOT_FOUND | _DUPLICATE)  # fmt: skip
    async def replace_channel(
        self, channel_id: ChannelId, data: JSONBody[ChannelIn], db: Db, request: Request[AuthUser, str, Any]
    ) -> ChannelOut:
        current = await _fetch(db, channel_id)
        keys = set(data.secret) if isinstance(data.secret, dict) else set(current.secret_keys)
        check_channel(data, keys)
        secret = Jsonb(data.secret) if isinstance(data.secret, dict) else None
        try:
            async with db.transaction():
                await db.execute(
                    "UPDATE alert_channels SET name = %s, kind = %s, config = %s, enabled = %s,"
                    " secret = coalesce(%s, secret) WHERE id = %s",
                    (data.name, data.kind, Jsonb(data.config), data.enabled, secret, channel_id),
                )
        except psycopg.errors.UniqueViolation:
            raise conflict(f"a channel named {data.name!r} already exists", "name") from None
        await record_audit(db, request, AuditAction.ALERT_CHANNEL_UPDATE, user=request.user,
                           target=f"alert_channel:{channel_id}", detail=_audit_detail(data))  # fmt: skip
        return await _fetch(db, channel_id)

    @delete(paths.ALERT_CHANNEL_ITEM, operation_id="deleteAlertChannel", name="alerts:channel-delete",
            summary="Delete a channel", status_code=HTTP_204_NO_CONTENT, guards=[requires_operator],
            responses=_NOT_FOUND)  # fmt: skip
    async def delete_channel(
        self, channel_id: ChannelId, db: Db, request: Request[AuthUser, str, Any]
    ) -> None:
        cur = await db.execute("DELETE FROM alert_channels WHERE id = %s RETURNING name", (channel_id,))
        row = await cur.fetchone()
        if row is None:
            raise not_found("channel", channel_id)
        await record_audit(db, request, AuditAction.ALERT_CHANNEL_DELETE, user=request.user,
                           target=f"alert_channel:{channel_id}", detail={"name": row["name"]})  # fmt: skip

    @post(paths.ALERT_CHANNEL_TEST, operation_id="testAlertChannel", name="alerts:channel-test",
          summary="Queue a test notification; poll the returned delivery for the outcome",
          status_code=HTTP_202_ACCEPTED, guards=[requires_operator], responses=_NOT_FOUND)  # fmt: skip
    async def test_channel(
        self, channel_id: ChannelId, db: Db, request: Request[AuthUser, str, Any]
    ) -> DeliveryOut:
        await _fetch(db, channel_id)
        row = await (
            await db.execute(
                f"INSERT INTO alert_deliveries (channel_id, transition) VALUES (%s, 'test') RETURNING {DELIVERY_COLUMNS}",
                (channel_id,),
            )
        ).fetchone()
        assert row is not None
        await record_audit(db, request, AuditAction.ALERT_CHANNEL_TEST, user=request.user,
                           target=f"alert_channel:{channel_id}", detail={"delivery_id": row["id"]})  # fmt: skip
        return msgspec.convert(row, DeliveryOut)
