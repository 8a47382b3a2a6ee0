"""SQL for command records, containers and agent state, and rows to response Structs."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from api.resources import Connection
from common.api_models.commands import (
    COMMAND_KINDS,
    AgentStateOut,
    CommandOut,
    CommandSummary,
    ContainerEventOut,
    ContainerOut,
)

__all__ = [
    "COMMANDS_CHANNEL",
    "agent_state",
    "container_events",
    "fetch_command",
    "fetch_output_after",
    "list_commands",
    "list_containers",
    "resolve_container",
]

# The collector LISTENs here (payload: the VPS id) and dispatches pending commands.
COMMANDS_CHANNEL = "tidewatch_commands"
# Which local switches each kind needs (mirrors agent/commands/executor.py).
KIND_FEATURES: dict[str, tuple[str, ...]] = {
    "shell": ("shell",),
    "script": ("script",),
    "ping": (),
    "docker_action": ("docker", "docker_control"),
    "docker_logs": ("docker",),
}

_SUMMARY = """
c.id::text AS id, c.vps_id, c.kind, c.args, c.status,
coalesce(nullif(c.requested_by_name, ''), u.username, '') AS requested_by,
c.created_at, c.dispatched_at, c.dispatched_by, c.started_at, c.finished_at, c.expires_at,
c.exit_code, c.error_message, c.output_truncated, c.output_bytes, c.cancel_of::text AS cancel_of,
(extract(epoch FROM c.finished_at - coalesce(c.started_at, c.dispatched_at, c.created_at)) * 1000)::bigint
    AS duration_ms
"""


def _summary(row: dict[str, Any]) -> CommandSummary:
    return msgspec.convert(row, CommandSummary, from_attributes=False)


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def fetch_command(db: Connection, command_id: uuid.UUID, *, output: bool = True) -> CommandOut | None:
    cur = await db.execute(
        f"SELECT {_SUMMARY}, c.stdout, c.stderr FROM commands c"
        " LEFT JOIN users u ON u.id = c.requested_by WHERE c.id = %s",
        (command_id,),
    )
    row = await cur.fetchone()
    return None if row is None else msgspec.convert(row, CommandOut)


async def fetch_summary(db: Connection, command_id: uuid.UUID) -> CommandSummary | None:
    cur = await db.execute(
        f"SELECT {_SUMMARY} FROM commands c LEFT JOIN users u ON u.id = c.requested_by WHERE c.id = %s",
        (command_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _summary(row)


async def list_commands(
    db: Connection,
    vps_id: int,
    *,
    status: str | None,
    kind: str | None,
    before: uuid.UUID | None,
    limit: int,
) -> list[CommandSummary]:
    """Newest first; ``before`` is the id of the last record of the previous page."""
    cur = await db.execute(
        f"SELECT {_SUMMARY} FROM commands c LEFT JOIN users u ON u.id = c.requested_by"
        " WHERE c.vps_id = %(vps_id)s"
        " AND (%(status)s::text IS NULL OR c.status = %(status)s)"
        " AND (%(kind)s::text IS NULL OR c.kind = %(kind)s)"
        " AND (%(before)s::uuid IS NULL OR (c.created_at, c.id) <"
        "      (SELECT created_at, id FROM commands WHERE id = %(before)s))"
        " ORDER BY c.created_at DESC, c.id DESC LIMIT %(limit)s",
        {"vps_id": vps_id, "status": status, "kind": kind, "before": before, "limit": limit},
    )
    return [_summary(row) for row in await cur.fetchall()]


async def fetch_output_after(db: Connection, command_id: uuid.UUID, seq: int) -> list[dict[str, Any]]:
    cur = await db.execute(
        "SELECT seq, stdout, stderr FROM command_output WHERE command_id = %s AND seq > %s ORDER BY seq",
        (command_id, seq),
    )
    return list(await cur.fetchall())


async def resolve_container(db: Connection, vps_id: int, ref: str) -> str | None:
    """The full id of the container ``ref`` (id, id prefix of 4+, or name) on this VPS."""
    cur = await db.execute(
        "SELECT container_id, name FROM containers WHERE vps_id = %(vps_id)s AND removed_at IS NULL"
        " AND (container_id = %(ref)s OR name = %(ref)s OR name = '/' || %(ref)s"
        "      OR (length(%(ref)s) >= 4 AND starts_with(container_id, %(ref)s)))"
        " ORDER BY (container_id = %(ref)s OR name = %(ref)s) DESC LIMIT 2",
        {"vps_id": vps_id, "ref": ref},
    )
    rows = await cur.fetchall()
    exact = [r for r in rows if ref in (r["container_id"], r["name"])]
    if exact or len(rows) == 1:  # a prefix matching two containers is ambiguous: refused
        return str((exact or rows)[0]["container_id"])
    return None


async def list_containers(db: Connection, vps_id: int) -> list[ContainerOut]:
    cur = await db.execute(
        "SELECT c.container_id, c.name, c.image, c.state, c.status,"
        " substring(c.status from '\\((healthy|unhealthy|health: starting)\\)') AS health,"
        " c.started_at, c.restart_count, c.exit_code, c.ports, c.last_seen,"
        " m.cpu_percent, m.memory_usage_bytes, m.memory_limit_bytes,"
        " e.event AS last_event, e.time AS last_event_at"
        " FROM containers c"
        " LEFT JOIN LATERAL (SELECT cpu_percent, memory_usage_bytes, memory_limit_bytes"
        "   FROM container_metrics WHERE vps_id = c.vps_id AND container_id = c.container_id"
        "   AND time > now() - interval '10 minutes' ORDER BY time DESC LIMIT 1) m ON true"
        " LEFT JOIN LATERAL (SELECT event, time FROM container_events"
        "   WHERE vps_id = c.vps_id AND container_id = c.container_id ORDER BY time DESC, id DESC LIMIT 1) e"
        "   ON true"
        " WHERE c.vps_id = %s AND c.removed_at IS NULL ORDER BY c.name",
        (vps_id,),
    )
    return [msgspec.convert(row, ContainerOut) for row in await cur.fetchall()]


async def container_events(
    db: Connection, vps_id: int, container_id: str, limit: int
) -> list[ContainerEventOut]:
    cur = await db.execute(
        "SELECT time, event, exit_code, detail FROM container_events"
        " WHERE vps_id = %s AND container_id = %s ORDER BY time DESC, id DESC LIMIT %s",
        (vps_id, container_id, limit),
    )
    return [msgspec.convert(row, ContainerEventOut) for row in await cur.fetchall()]


async def agent_state(db: Connection, vps_id: int) -> AgentStateOut | None:
    cur = await db.execute(
        "SELECT v.id, v.connected_collector IS NOT NULL AS connected, v.agent_config,"
        " s.local_features, s.heartbeat_at, s.pending_batches, s.spooled_bytes, s.dropped_batches_total,"
        " s.docker_sample_overruns_total, s.control_messages_dropped_total"
        " FROM vps v LEFT JOIN vps_agent_state s ON s.vps_id = v.id WHERE v.id = %s",
        (vps_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    local: dict[str, bool] = row["local_features"] or {}
    wanted: dict[str, Any] = (row["agent_config"] or {}).get("features") or {}
    enabled = {name for name, on in local.items() if on and wanted.get(name, True) is not False}
    return AgentStateOut(
        vps_id=row["id"],
        connected=row["connected"],
        local_features=local,
        allowed_kinds=[k for k in COMMAND_KINDS if set(KIND_FEATURES[k]) <= enabled],
        heartbeat_at=row["heartbeat_at"],
        pending_batches=row["pending_batches"] or 0,
        spooled_bytes=row["spooled_bytes"] or 0,
        dropped_batches_total=row["dropped_batches_total"] or 0,
        docker_sample_overruns_total=row["docker_sample_overruns_total"] or 0,
        control_messages_dropped_total=row["control_messages_dropped_total"] or 0,
    )
