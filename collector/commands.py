"""Carry commands from the ``commands`` table to agents, and their output back.

The API inserts a row (status ``pending``) and NOTIFYs ``tidewatch_commands``
with the VPS id. The collector holding that agent claims pending rows with
SKIP LOCKED, so with several collectors each command is sent once, and sends
them as CommandRequests. CommandResponse chunks are appended to the row and
announced on ``COMMAND_UPDATES_CHANNEL``.
"""

from __future__ import annotations

import json
import logging
import uuid

from google.protobuf import json_format

from collector.command_failures import fail_in_flight_where
from collector.database import Database
from collector.sessions import SessionRegistry
from common.api_models.commands import COMMAND_UPDATES_CHANNEL
from proto import agent_pb2

__all__ = ["FINAL_STATUSES", "STATUS_NAMES", "CommandRelay"]

log = logging.getLogger("tidewatch.collector.commands")

# Output kept per command and stream; agents also cap their own output.
MAX_STORED_OUTPUT_BYTES = 1024 * 1024


STATUS_NAMES: dict[int, str] = {
    agent_pb2.COMMAND_STATUS_ACCEPTED: "accepted",
    agent_pb2.COMMAND_STATUS_RUNNING: "running",
    agent_pb2.COMMAND_STATUS_SUCCEEDED: "succeeded",
    agent_pb2.COMMAND_STATUS_FAILED: "failed",
    agent_pb2.COMMAND_STATUS_TIMED_OUT: "timed_out",
    agent_pb2.COMMAND_STATUS_CANCELLED: "cancelled",
    agent_pb2.COMMAND_STATUS_REJECTED: "rejected",
}
FINAL_STATUSES = frozenset({"succeeded", "failed", "timed_out", "cancelled", "rejected", "expired"})


class CommandRelay:
    def __init__(self, db: Database, registry: SessionRegistry, collector_id: str = "") -> None:
        self._db = db
        self._registry = registry
        self._collector_id = collector_id

    async def expire_queued(self) -> int:
        """End queued commands whose expiry passed before any agent took them."""
        async with self._db.connection("command expiry") as conn:
            rows = await (
                await conn.execute(
                    "WITH expired AS (UPDATE commands SET status = 'expired', finished_at = now(),"
                    " error_message = 'expired: the agent did not connect before ' || expires_at::text"
                    " WHERE status = 'pending' AND expires_at < now() RETURNING id)"
                    " SELECT pg_notify(%s, id::text) FROM expired",
                    (COMMAND_UPDATES_CHANNEL,),
                )
            ).fetchall()
        return len(rows)

    async def fail_in_flight(
        self, vps_id: int, stream_id: str | None = None, *, except_stream: str = ""
    ) -> int:
        """Commands sent on a stream that is gone end failed: no final answer can come.

        With ``stream_id`` only that stream's; without, every in-flight command of the
        VPS but those on ``except_stream`` (a new stream means the old one, wherever
        it was held, is gone).
        """
        return await self._fail_disconnected(
            "command disconnect",
            "vps_id = %s AND (%s::text IS NULL OR dispatched_stream = %s)"
            " AND coalesce(dispatched_stream, '') <> %s",
            (vps_id, stream_id, stream_id, except_stream or "-"),
        )

    async def fail_in_flight_on(self, stream_ids: list[str]) -> int:
        """At shutdown: commands sent on any of ``stream_ids`` end failed, in one statement."""
        if not stream_ids:
            return 0
        return await self._fail_disconnected(
            "command disconnect at shutdown", "dispatched_stream = ANY(%s)", (stream_ids,)
        )

    async def _fail_disconnected(self, what: str, condition: str, params: tuple[object, ...]) -> int:
        async with self._db.connection(what) as conn:
            return await fail_in_flight_where(conn, condition, params)

    async def dispatch_pending(self, vps_ids: list[int] | None = None) -> int:
        """Send pending commands for the given (default: all held) agents; return how many."""
        held = (
            self._registry.held_vps_ids()
            if vps_ids is None
            else [v for v in vps_ids if self._registry.get(v) is not None]
        )
        if not held:
            return 0
        streams = {v: s.stream_id for v in held if (s := self._registry.get(v)) is not None}
        async with self._db.connection("command dispatch") as conn:
            rows = await (
                await conn.execute(
                    "WITH claimed AS (UPDATE commands SET status = 'dispatched', dispatched_at = now(),"
                    " dispatched_by = %s, dispatched_stream = (%s::jsonb ->> vps_id::text)"
                    " WHERE id IN (SELECT id FROM commands WHERE status = 'pending' AND vps_id = ANY(%s)"
                    " AND (expires_at IS NULL OR expires_at >= now())"
                    " ORDER BY created_at FOR UPDATE SKIP LOCKED)"
                    " RETURNING id::text, vps_id, request)"
                    " SELECT id, vps_id, request, pg_notify(%s, id) FROM claimed",
                    (
                        self._collector_id,
                        json.dumps({str(k): v for k, v in streams.items()}),
                        held,
                        COMMAND_UPDATES_CHANNEL,
                    ),
                )
            ).fetchall()
        sent = 0
        for command_id, vps_id, request, _ in rows:
            session = self._registry.get(vps_id)
            message = agent_pb2.CommandRequest()
            try:
                json_format.ParseDict(request, message)
            except json_format.ParseError as exc:
                await self._finish(command_id, "rejected", f"stored request is malformed: {exc}")
                continue
            message.command_id = command_id
            if session is None or session.stream_id != streams.get(vps_id):
                await self._finish(command_id, "pending", "")
                continue
            session.send(agent_pb2.MessageToAgent(command_request=message))
            sent += 1
        return sent

    async def _finish(self, command_id: str, status: str, error: str) -> None:
        async with self._db.connection("command status") as conn:
            await conn.execute(
                "UPDATE commands SET status = %s, error_message = %s,"
                " finished_at = CASE WHEN %s THEN now() END WHERE id = %s",
                (status, error, status in FINAL_STATUSES, command_id),
            )
            await conn.execute("SELECT pg_notify(%s, %s)", (COMMAND_UPDATES_CHANNEL, command_id))

    async def record_response(self, vps_id: int, response: agent_pb2.CommandResponse) -> None:
        """Apply one response chunk, in order and once; an agent only writes its own VPS's commands.

        Output goes to ``command_output`` under the agent's chunk index (what live
        clients resume from) and to the record's stdout/stderr, both within the cap.
        A final status is never overwritten (a late answer after "agent
        disconnected" or a cancel changes nothing).
        """
        status = STATUS_NAMES.get(response.status)
        if status is None:
            log.warning("vps %d sent a command response with unknown status %d", vps_id, response.status)
            return
        if "\x00" in response.command_id:  # no command has such an id, and PostgreSQL refuses NUL
            log.warning("vps %d answered a command id containing NUL; ignored", vps_id)
            return
        try:
            command_uuid = uuid.UUID(response.command_id)
        except ValueError:
            log.warning("vps %d answered unknown command %r; ignored", vps_id, response.command_id[:64])
            return
        stdout = response.stdout.decode("utf-8", "replace").replace("\x00", "")
        stderr = response.stderr.decode("utf-8", "replace").replace("\x00", "")
        async with self._db.connection("command response") as conn:
            row = await (
                await conn.execute(
                    "SELECT status, output_bytes, last_chunk FROM commands"
                    " WHERE id = %s AND vps_id = %s FOR UPDATE",
                    (command_uuid, vps_id),
                )
            ).fetchone()
            if row is None:
                log.warning("vps %d answered unknown command %s; ignored", vps_id, command_uuid)
                return
            current, output_bytes, last_chunk = row
            if current in FINAL_STATUSES or response.chunk_index <= last_chunk:
                return
            room = max(MAX_STORED_OUTPUT_BYTES - output_bytes, 0)
            truncated = response.output_truncated or len(stdout) + len(stderr) > room
            stdout = stdout[:room]
            stderr = stderr[: max(room - len(stdout), 0)]
            final = status in FINAL_STATUSES
            # accepted never follows running: keep the furthest state reached.
            new_status = current if (status == "accepted" and current == "running") else status
            await conn.execute(
                "UPDATE commands SET status = %(status)s, last_chunk = %(chunk)s,"
                " stdout = stdout || %(stdout)s, stderr = stderr || %(stderr)s,"
                " output_bytes = output_bytes + %(n)s, output_truncated = output_truncated OR %(truncated)s,"
                " started_at = CASE WHEN %(status)s = 'running' THEN coalesce(started_at, now())"
                "   ELSE started_at END,"
                " exit_code = CASE WHEN %(final)s THEN %(exit_code)s ELSE exit_code END,"
                " error_message = CASE WHEN %(error)s <> '' THEN %(error)s ELSE error_message END,"
                " finished_at = CASE WHEN %(final)s THEN now() ELSE finished_at END"
                " WHERE id = %(id)s",
                {
                    "status": new_status,
                    "chunk": response.chunk_index,
                    "stdout": stdout,
                    "stderr": stderr,
                    "n": len(stdout) + len(stderr),
                    "truncated": truncated,
                    "final": final,
                    "exit_code": response.exit_code,
                    "error": response.error_message.replace("\x00", "")[:4096],
                    "id": command_uuid,
                },
            )
            if stdout or stderr:
                await conn.execute(
                    "INSERT INTO command_output (command_id, seq, stdout, stderr) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (command_uuid, response.chunk_index, stdout, stderr),
                )
            # A hint only: listeners re-read the row and its chunks.
            await conn.execute("SELECT pg_notify(%s, %s)", (COMMAND_UPDATES_CHANNEL, str(command_uuid)))
