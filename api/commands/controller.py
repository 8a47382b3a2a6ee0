"""``/api/vps/{id}/commands`` and ``/api/commands/{cid}``: operators command agents,
everyone reads the records. Every command and cancel is audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED
from psycopg.types.json import Jsonb

from api import paths
from api.audit import record_audit
from api.auth.guards import requires_operator, requires_viewer
from api.auth.sessions import AuthUser
from api.commands.queries import (
    COMMANDS_CHANNEL,
    agent_state,
    as_uuid,
    container_events,
    fetch_command,
    list_commands,
    list_containers,
    resolve_container,
)
from api.commands.requests import agent_request, shown_args
from api.errors import ProblemError, invalid, unmet_rule
from api.resources import Connection, Db
from api.vps.controller import VpsId
from common.api_models.commands import (
    COMMAND_UPDATES_CHANNEL,
    FINAL_STATUSES,
    AgentStateOut,
    CommandCreate,
    CommandOut,
    CommandSummary,
    ContainerEventOut,
    ContainerOut,
    DockerActionCommand,
    DockerLogsCommand,
    ScriptCommand,
)
from common.problems import FieldError, Problem
from common.records import AuditAction

__all__ = ["CommandId", "CommandsController", "VpsCommandsController"]

CommandId = Annotated[str, PathParameter(max_length=64, description="Command id (a UUID)")]

_STATUSES = ("pending", "dispatched", "accepted", "running", *sorted(FINAL_STATUSES))
# The list filters as the OpenAPI document states them (enums), so a client and the
# server agree on what is valid; tests/api/test_commands.py pins them to the sources.
StatusFilter = Literal[
    "pending", "dispatched", "accepted", "running",
    "cancelled", "expired", "failed", "rejected", "succeeded", "timed_out",
]  # fmt: skip
KindFilter = Literal["docker_action", "docker_logs", "shell", "script", "ping", "cancel"]
# A command id as the API writes it: the canonical 8-4-4-4-12 hex form only.
COMMAND_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_NO_VPS = {404: ResponseSpec(Problem, description="No such VPS")}
_OFFLINE = {409: ResponseSpec(Problem, description="The agent is offline and queue_for_s was not given")}


def _vps_missing(vps_id: int) -> ProblemError:
    return ProblemError(
        404,
        f"VPS {vps_id} does not exist",
        title="VPS not found",
        errors=[FieldError(field="vps_id", message="no such VPS", source="path")],
    )


def _command_missing(command_id: str) -> ProblemError:
    return ProblemError(
        404,
        f"command {command_id} does not exist",
        title="Command not found",
        errors=[FieldError(field="command_id", message="no such command", source="path")],
    )


async def _vps_row(db: Connection, vps_id: int) -> dict[str, Any]:
    cur = await db.execute(
        "SELECT id, connected_collector IS NOT NULL AS connected FROM vps WHERE id = %s FOR SHARE", (vps_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise _vps_missing(vps_id)
    return row


async def _container(db: Connection, vps_id: int, ref: str) -> str:
    full = await resolve_container(db, vps_id, ref)
    if full is None:
        raise unmet_rule("container_id", f"no container {ref!r} on VPS {vps_id}")
    return full


async def _insert(
    db: Connection,
    *,
    command_id: uuid.UUID,
    vps_id: int,
    user: AuthUser,
    kind: str,
    request: dict[str, Any],
    args: dict[str, Any],
    expires_in: timedelta | None,
    cancel_of: uuid.UUID | None = None,
) -> None:
    await db.execute(
        "INSERT INTO commands (id, vps_id, requested_by, requested_by_name, kind, request, args,"
        " expires_at, cancel_of) VALUES (%s, %s, %s, %s, %s, %s, %s, now() + %s, %s)",
        (
            command_id,
            vps_id,
            user.id,
            user.username,
            kind,
            Jsonb(request),
            Jsonb(args),
            expires_in,
            cancel_of,
        ),
    )
    # Delivered on commit: the collector holding the agent claims it (SKIP LOCKED).
    await db.execute("SELECT pg_notify(%s, %s)", (COMMANDS_CHANNEL, str(vps_id)))


class VpsCommandsController(Controller):
    """Commands, containers and agent state of one VPS."""

    path = paths.VPS_BY_ID
    tags = ["commands"]
    guards = [requires_viewer]

    @post(
        paths.VPS_COMMANDS,
        operation_id="createCommand",
        name="commands:create",
        summary="Send a command to the VPS's agent",
        description=(
            "The body's `kind` picks docker_action, docker_logs, shell, script or ping. Answers 202 with"
            " the record; follow it at `Location` or stream it over the command socket. An offline agent"
            " gives 409 unless `queue_for_s` asks to keep the command for it."
        ),
        guards=[requires_operator],
        status_code=HTTP_202_ACCEPTED,
        responses={**_NO_VPS, **_OFFLINE},
    )
    async def create_command(
        self,
        vps_id: VpsId,
        data: JSONBody[CommandCreate],
        db: Db,
        request: Request[AuthUser, str, Any],
    ) -> Response[CommandOut]:
        kind = type(data).__struct_config__.tag
        assert isinstance(kind, str)
        if isinstance(data, ScriptCommand) and (data.inline is None) == (data.path in (None, "")):
            raise unmet_rule("inline", "give exactly one of inline and path")
        vps = await _vps_row(db, vps_id)
        container_id = None
        if isinstance(data, DockerActionCommand | DockerLogsCommand):
            container_id = await _container(db, vps_id, data.container_id)
        if not vps["connected"] and data.queue_for_s is None:
            raise ProblemError(
                409,
                f"the agent of VPS {vps_id} is not connected; retry later or set queue_for_s to queue it",
                title="Agent offline",
                slug="agent-offline",
                errors=[FieldError(field="queue_for_s", message="agent offline; not queued", source="body")],
            )
        command_id = uuid.uuid4()
        args = shown_args(data, container_id)
        expires_in = timedelta(seconds=data.queue_for_s) if data.queue_for_s is not None else None
        await _insert(
            db,
            command_id=command_id,
            vps_id=vps_id,
            user=request.user,
            kind=kind,
            request=agent_request(data, container_id),
            args=args,
            expires_in=expires_in,
        )
        await record_audit(
            db,
            request,
            AuditAction.COMMAND_CREATE,
            user=request.user,
            target=f"vps:{vps_id}",
            detail={"command_id": str(command_id), "kind": kind, "args": args},
        )
        record = await fetch_command(db, command_id)
        assert record is not None
        return Response(
            record,
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": paths.COMMAND_ITEM_URL.format(command_id=command_id)},
        )

    @get(
        paths.VPS_COMMANDS,
        operation_id="listCommands",
        name="commands:list",
        summary="The VPS's commands, newest first, without output",
        responses=_NO_VPS,
    )
    async def list_vps_commands(
        self,
        vps_id: VpsId,
        db: Db,
        status: Annotated[StatusFilter | None, QueryParameter(name="status")] = None,
        kind: Annotated[KindFilter | None, QueryParameter(name="kind")] = None,
        before: Annotated[
            str | None,
            QueryParameter(
                name="before",
                pattern=COMMAND_ID_PATTERN,
                description="id of the last record of the previous page",
            ),
        ] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=500)] = 50,
    ) -> list[CommandSummary]:
        before_id = None
        if before is not None and (before_id := as_uuid(before)) is None:
            raise invalid("before", "must be a command id")
        await _vps_row(db, vps_id)
        return await list_commands(db, vps_id, status=status, kind=kind, before=before_id, limit=limit)

    @get(
        paths.VPS_CONTAINERS,
        operation_id="listContainers",
        name="containers:list",
        summary="Newest state of each container: state, image, health, restarts, ports, last event",
        responses=_NO_VPS,
    )
    async def containers(self, vps_id: VpsId, db: Db) -> list[ContainerOut]:
        await _vps_row(db, vps_id)
        return await list_containers(db, vps_id)

    @get(
        paths.VPS_CONTAINER_EVENTS,
        operation_id="listContainerEvents",
        name="containers:events",
        summary="A container's lifecycle events, newest first",
        responses=_NO_VPS,
    )
    async def events(
        self,
        vps_id: VpsId,
        container_id: Annotated[
            str, PathParameter(max_length=255, description="Container id, id prefix or name")
        ],
        db: Db,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=1000)] = 100,
    ) -> list[ContainerEventOut]:
        await _vps_row(db, vps_id)
        full = await resolve_container(db, vps_id, container_id)
        if full is None:
            raise ProblemError(
                404,
                f"no container {container_id!r} on VPS {vps_id}",
                title="Container not found",
                errors=[FieldError(field="container_id", message="no such container", source="path")],
            )
        return await container_events(db, vps_id, full, limit)

    @get(
        paths.VPS_AGENT,
        operation_id="getAgentState",
        name="agent:state",
        summary="What the agent allows (its handshake) and its newest heartbeat counters",
        responses=_NO_VPS,
    )
    async def agent(self, vps_id: VpsId, db: Db) -> AgentStateOut:
        state = await agent_state(db, vps_id)
        if state is None:
            raise _vps_missing(vps_id)
        return state


class CommandsController(Controller):
    """One command by id: read it, or cancel it."""

    path = paths.COMMANDS
    tags = ["commands"]
    guards = [requires_viewer]

    @get(
        paths.COMMAND_ITEM,
        operation_id="getCommand",
        name="commands:get",
        summary="One command with its stored output",
        responses={404: ResponseSpec(Problem, description="No such command")},
    )
    async def get_command(self, command_id: CommandId, db: Db) -> CommandOut:
        ident = as_uuid(command_id)
        record = await fetch_command(db, ident) if ident is not None else None
        if record is None:
            raise _command_missing(command_id)
        return record

    @post(
        paths.COMMAND_CANCEL,
        operation_id="cancelCommand",
        name="commands:cancel",
        summary="Cancel a command: a queued one ends at once, a running one is stopped by its agent",
        guards=[requires_operator],
        status_code=HTTP_202_ACCEPTED,
        responses={
            404: ResponseSpec(Problem, description="No such command"),
            409: ResponseSpec(Problem, description="The command has already ended"),
        },
    )
    async def cancel(self, command_id: CommandId, db: Db, request: Request[AuthUser, str, Any]) -> CommandOut:
        ident = as_uuid(command_id)
        cur = await db.execute(
            "SELECT id, vps_id, status, kind FROM commands WHERE id = %s FOR UPDATE", (ident,)
        )
        row = await cur.fetchone() if ident is not None else None
        if row is None or ident is None:
            raise _command_missing(command_id)
        if row["status"] in FINAL_STATUSES:
            raise ProblemError(409, f"command {command_id} has already ended ({row['status']})")
        if row["kind"] == "cancel":
            raise ProblemError(409, "a cancel cannot be cancelled")
        if row["status"] == "pending":
            await db.execute(
                "UPDATE commands SET status = 'cancelled', finished_at = now(), error_message = %s"
                " WHERE id = %s",
                (f"cancelled by {request.user.username} before it was sent", ident),
            )
            await db.execute("SELECT pg_notify(%s, %s)", (COMMAND_UPDATES_CHANNEL, str(ident)))
        else:
            await _insert(
                db,
                command_id=uuid.uuid4(),
                vps_id=row["vps_id"],
                user=request.user,
                kind="cancel",
                request={"cancel": {"target_command_id": str(ident)}},
                args={"target_command_id": str(ident)},
                expires_in=None,
                cancel_of=ident,
            )
        await record_audit(
            db,
            request,
            AuditAction.COMMAND_CANCEL,
            user=request.user,
            target=f"vps:{row['vps_id']}",
            detail={"command_id": str(ident), "kind": row["kind"], "status": row["status"]},
        )
        record = await fetch_command(db, ident)
        assert record is not None
        return record
