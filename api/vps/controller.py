"""``/api/vps``: the fleet's records. Operators change them; everyone reads them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
import psycopg
from litestar import Controller, Request, delete, get, patch, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from psycopg import sql
from psycopg.types.json import Jsonb

from api import paths
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.errors import conflict, not_found
from api.resources import Connection, Db, get_resources
from api.settings.store import effective_settings
from api.vps.queries import TOKEN_ROTATED_CHANNEL, fetch_vps, list_vps
from common.api_models import VpsCreate, VpsCreated, VpsOut, VpsTokenRotated, VpsUpdate
from common.install import one_line_install_command
from common.problems import Problem
from common.records import INSERT_VPS, AuditAction, new_agent_token

__all__ = ["VpsController", "VpsId"]

VpsId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="VPS id")]
_NOT_FOUND = {404: ResponseSpec(Problem, description="No such VPS")}
_DUPLICATE = {409: ResponseSpec(Problem, description="The name is taken")}


async def _install_command(db: Connection, request: Request[Any, Any, Any], token: str) -> str:
    """The one-line install for ``token``, fetching from the public API URL setting."""
    res = get_resources(request.app.state)
    settings = await effective_settings(db, res.settings, res.install)
    return one_line_install_command(settings.public_api_url, token)


async def _require_vps(db: Connection, vps_id: int) -> VpsOut:
    vps = await fetch_vps(db, vps_id)
    if vps is None:
        raise not_found("VPS", vps_id)
    return vps


class VpsController(Controller):
    """VPS records with their agent tokens (stored hashed, shown once)."""

    path = paths.VPS
    tags = ["vps"]
    guards = [requires_viewer]

    @get(operation_id="listVps", name="vps:list", summary="List the fleet with status and newest metrics")
    async def list_fleet(self, db: Db) -> list[VpsOut]:
        return await list_vps(db)

    @get(
        paths.VPS_ITEM,
        operation_id="getVps",
        name="vps:get",
        summary="One VPS with host information and newest metrics",
        responses=_NOT_FOUND,
    )
    async def get_vps(self, vps_id: VpsId, db: Db) -> VpsOut:
        return await _require_vps(db, vps_id)

    @post(
        operation_id="createVps",
        name="vps:create",
        summary="Add a VPS; the response holds its agent token, shown only once",
        guards=[requires_operator],
        responses=_DUPLICATE,
    )
    async def create_vps(
        self, data: JSONBody[VpsCreate], db: Db, request: Request[AuthUser, str, Any]
    ) -> VpsCreated:
        issued = await asyncio.to_thread(new_agent_token)
        try:
            cur = await db.execute(
                INSERT_VPS,
                {
                    "name": data.name,
                    "ip_address": data.ip_address,
                    "labels": Jsonb(data.labels),
                    "agent_key_id": issued.key_id,
                    "agent_token_hash": issued.token_hash,
                    "created_by": request.user.id,
                },
            )
        except psycopg.errors.UniqueViolation:
            raise conflict(f"a VPS named {data.name!r} already exists", "name") from None
        row = await cur.fetchone()
        assert row is not None
        vps = await _require_vps(db, row["id"])
        await record_audit(
            db,
            request,
            AuditAction.VPS_CREATE,
            user=request.user,
            target=f"vps:{vps.id}",
            detail={"name": vps.name, "ip_address": vps.ip_address},
        )
        return VpsCreated(
            vps=vps,
            agent_token=issued.token,
            install_command=await _install_command(db, request, issued.token),
        )

    @patch(
        paths.VPS_ITEM,
        operation_id="updateVps",
        name="vps:update",
        summary="Change a VPS's name, address, labels or traffic quota",
        description="Absent fields stay as they are; labels are replaced as a whole.",
        guards=[requires_operator],
        responses={**_NOT_FOUND, **_DUPLICATE},
    )
    async def update_vps(
        self, vps_id: VpsId, data: JSONBody[VpsUpdate], db: Db, request: Request[AuthUser, str, Any]
    ) -> VpsOut:
        changes = {
            field: value
            for field in data.__struct_fields__
            if (value := getattr(data, field)) is not msgspec.UNSET
        }
        if changes:
            values = {k: Jsonb(v) if k == "labels" else v for k, v in changes.items()}
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in values
            )
            query = sql.SQL("UPDATE vps SET {} WHERE id = {} RETURNING id").format(
                assignments, sql.Placeholder("vps_id")
            )
            try:
                cur = await db.execute(query, {**values, "vps_id": vps_id})
            except psycopg.errors.UniqueViolation:
                raise conflict(f"a VPS named {changes['name']!r} already exists", "name") from None
            if await cur.fetchone() is None:
                raise not_found("VPS", vps_id)
        vps = await _require_vps(db, vps_id)
        await record_audit(
            db, request, AuditAction.VPS_UPDATE, user=request.user, target=f"vps:{vps_id}", detail=changes
        )
        return vps

    @delete(
        paths.VPS_ITEM,
        operation_id="deleteVps",
        name="vps:delete",
        summary="Delete a VPS; its agent token stops working",
        description="Stored metrics are kept until retention drops them.",
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_operator],
        responses=_NOT_FOUND,
    )
    async def delete_vps(self, vps_id: VpsId, db: Db, request: Request[AuthUser, str, Any]) -> None:
        cur = await db.execute("DELETE FROM vps WHERE id = %s RETURNING name", (vps_id,))
        row = await cur.fetchone()
        if row is None:
            raise not_found("VPS", vps_id)
        # A deleted VPS's agent must be cut off just like a rotated one.
        await db.execute("SELECT pg_notify(%s, %s)", (TOKEN_ROTATED_CHANNEL, str(vps_id)))
        await record_audit(
            db,
            request,
            AuditAction.VPS_DELETE,
            user=request.user,
            target=f"vps:{vps_id}",
            detail={"name": row["name"]},
        )

    @post(
        paths.VPS_ROTATE_TOKEN,
        operation_id="rotateVpsToken",
        name="vps:rotate-token",
        summary="Replace the agent token; connected agents with the old one are cut off",
        guards=[requires_operator],
        responses=_NOT_FOUND,
    )
    async def rotate_token(
        self, vps_id: VpsId, db: Db, request: Request[AuthUser, str, Any]
    ) -> VpsTokenRotated:
        issued = await asyncio.to_thread(new_agent_token)
        cur = await db.execute(
            "UPDATE vps SET agent_key_id = %s, agent_token_hash = %s, token_rotated_at = now()"
            " WHERE id = %s RETURNING token_rotated_at",
            (issued.key_id, issued.token_hash, vps_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise not_found("VPS", vps_id)
        # Delivered on commit, so the collector never sees a rotation that rolled back.
        await db.execute("SELECT pg_notify(%s, %s)", (TOKEN_ROTATED_CHANNEL, str(vps_id)))
        await record_audit(
            db, request, AuditAction.VPS_ROTATE_TOKEN, user=request.user, target=f"vps:{vps_id}"
        )
        return VpsTokenRotated(
            vps_id=vps_id,
            agent_token=issued.token,
            token_rotated_at=row["token_rotated_at"],
            install_command=await _install_command(db, request, issued.token),
        )
