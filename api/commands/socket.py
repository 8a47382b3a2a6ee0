"""``GET /api/commands/{cid}/stream`` (WebSocket): a command's output as it commits.

Authenticate as on ``/api/live`` (``?token=`` or a first ``auth`` message).
The server sends ``status`` (the record as stored), then ``output`` chunks in
``seq`` order and a ``status`` at every change, and finally ``end`` with the
final record, then closes (1000). A client joining late gets the stored chunks
first and then the rest: each read asks for ``seq`` after the last one sent,
so nothing is missed or sent twice. Reads are triggered by hints on
``tidewatch_command_updates`` (and every few seconds should hints be lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import PathParameter

from api import paths
from api.commands.queries import as_uuid, fetch_output_after, fetch_summary
from api.live.socket import SocketSession, authenticate_or_close
from api.resources import get_resources
from common.api_models import LiveError
from common.api_models.commands import FINAL_STATUSES, CommandEnd, CommandOutputChunk, CommandStatusChanged

__all__ = ["WS_NOT_FOUND", "command_socket"]

log = logging.getLogger("tidewatch.api.commands")

WS_NOT_FOUND = 4404
# Re-read this often even without hints (a lost LISTEN connection, say).
SAFETY_READ_S = 5.0


async def _follow(session: SocketSession, command_id: str) -> None:
    res = get_resources(session.socket.app.state)
    ident = as_uuid(command_id)
    event = res.command_updates.watch(command_id)
    try:
        last_seq = -1
        last_status: str | None = None
        while True:
            event.clear()  # before the read: a change committed after it wakes us again
            async with res.connection("command stream") as conn:
                summary = await fetch_summary(conn, ident) if ident is not None else None
                chunks = await fetch_output_after(conn, ident, last_seq) if summary and ident else []
            if summary is None:
                await session.send(LiveError(detail=f"command {command_id} does not exist"))
                await session.socket.close(code=WS_NOT_FOUND, reason="no such command")
                return
            final = summary.status in FINAL_STATUSES
            if summary.status != last_status and not final:
                await session.send(CommandStatusChanged(command=summary))
                last_status = summary.status
            for chunk in chunks:
                await session.send(
                    CommandOutputChunk(seq=chunk["seq"], stdout=chunk["stdout"], stderr=chunk["stderr"])
                )
                last_seq = chunk["seq"]
            if final:
                await session.send(CommandEnd(command=summary))
                await session.socket.close(code=1000)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), SAFETY_READ_S)
    finally:
        res.command_updates.unwatch(command_id, event)


async def _drain(socket: WebSocket[Any, Any, Any]) -> None:
    while True:  # only to notice the client leaving
        await socket.receive_text()


@websocket(paths.COMMAND_STREAM, name="commands:stream", opt={"exclude_from_auth": True})
async def command_socket(
    socket: WebSocket[Any, Any, Any], command_id: Annotated[str, PathParameter(max_length=64)]
) -> None:
    """Stream one command's status changes and output until it ends."""
    await socket.accept()
    session = SocketSession(socket)
    res = get_resources(socket.app.state)
    if await authenticate_or_close(session, res) is None:
        return
    tasks = [asyncio.create_task(_follow(session, command_id)), asyncio.create_task(_drain(socket))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                log.warning("command socket for %s ended: %r", command_id, error)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
