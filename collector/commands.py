"""Carry commands from the ``commands`` table to agents, and their output back.

The API inserts a row (status ``pending``) and NOTIFYs ``tidewatch_commands``
with the VPS id. The collector holding that agent claims pending rows with
SKIP LOCKED, so with several collectors each command is sent once, and sends
them as CommandRequests. CommandResponse chunks are appended to the row and
announced on ``tidewatch_command_updates``.
"""

from __future__ import annotations

import logging

from google.protobuf import json_format

from collector.database import Database
from collector.sessions import SessionRegistry
from proto import agent_pb2

__all__ = ["STATUS_NAMES", "CommandRelay"]

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
FINAL_STATUSES = frozenset({"succeeded", "failed", "timed_out", "cancelled", "rejected"})


class CommandRelay:
    def __init__(self, db: Database, registry: SessionRegistry) -> None:
        self._db = db
        self._registry = registry

    async def dispatch_pending(self, vps_ids: list[int] | None = None) -> int:
        """Send pending commands for the given (default: all held) agents; return how many."""
        held = (
            self._registry.held_vps_ids()
            if vps_ids is None
            else [v for v in vps_ids if self._registry.get(v) is not None]
        )
        if not held:
            return 0
        async with self._db.connection("command dispatch") as conn:
            rows = await (
                await conn.execute(
                    "UPDATE commands SET status = 'dispatched', dispatched_at = now()"
                    " WHERE id IN (SELECT id FROM commands WHERE status = 'pending' AND vps_id = ANY(%s)"
                    " ORDER BY created_at FOR UPDATE SKIP LOCKED)"
                    " RETURNING id::text, vps_id, request",
                    (held,),
                )
            ).fetchall()
        sent = 0
        for command_id, vps_id, request in rows:
            session = self._registry.get(vps_id)
            message = agent_pb2.CommandRequest()
            try:
                json_format.ParseDict(request, message)
            except json_format.ParseError as exc:
                await self._finish(command_id, "rejected", f"stored request is malformed: {exc}")
                continue
            message.command_id = command_id
            if session is None:
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

    async def record_response(self, vps_id: int, response: agent_pb2.CommandResponse) -> None:
        """Append a response chunk; an agent can only write to its own VPS's commands."""
        status = STATUS_NAMES.get(response.status)
        if status is None:
            log.warning("vps %d sent a command response with unknown status %d", vps_id, response.status)
            return
        if "\x00" in response.command_id:  # no command has such an id, and PostgreSQL refuses NUL
            log.warning("vps %d answered a command id containing NUL; ignored", vps_id)
            return
        final = status in FINAL_STATUSES
        async with self._db.connection("command response") as conn:
            result = await conn.execute(
                "UPDATE commands SET status = CASE WHEN status = ANY(%(finals)s) THEN status ELSE %(status)s END,"
                " stdout = left(stdout || %(stdout)s, %(cap)s), stderr = left(stderr || %(stderr)s, %(cap)s),"
                " output_truncated = output_truncated OR %(truncated)s"
                "   OR length(stdout || %(stdout)s) > %(cap)s OR length(stderr || %(stderr)s) > %(cap)s,"
                " exit_code = CASE WHEN %(final)s THEN %(exit_code)s ELSE exit_code END,"
                " error_message = CASE WHEN %(error)s <> '' THEN %(error)s ELSE error_message END,"
                " finished_at = CASE WHEN %(final)s THEN now() ELSE finished_at END"
                " WHERE id::text = %(id)s AND vps_id = %(vps_id)s",
                {
                    "finals": list(FINAL_STATUSES),
                    "status": status,
                    "stdout": response.stdout.decode("utf-8", "replace").replace("\x00", ""),
                    "stderr": response.stderr.decode("utf-8", "replace").replace("\x00", ""),
                    "cap": MAX_STORED_OUTPUT_BYTES,
                    "truncated": response.output_truncated,
                    "final": final,
                    "exit_code": response.exit_code,
                    "error": response.error_message.replace("\x00", "")[:4096],
                    "id": response.command_id,
                    "vps_id": vps_id,
                },
            )
            if result.rowcount == 0:
                log.warning("vps %d answered unknown command %r; ignored", vps_id, response.command_id[:64])
                return
            await conn.execute("SELECT pg_notify('tidewatch_command_updates', %s)", (response.command_id,))
