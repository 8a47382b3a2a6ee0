"""The one task that writes to an agent's call (collector.service starts it per stream)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from collector.agent_clock import now_ms
from collector.agent_session import ACKS_READY, AgentSession
from proto import agent_pb2

__all__ = ["WRITE_DRAIN_S", "CallWriter"]

# How long an ending stream waits for its last write before sending the status.
WRITE_DRAIN_S = 5.0


class CallWriter:
    """The only writer of one call: acks, commands, config and heartbeat requests.

    grpc.aio marks initial metadata as sent only when the first write completes.
    A status sent while a write is still in flight asks for initial metadata again,
    core refuses the batch (GRPC_CALL_ERROR_TOO_MANY_OPERATIONS) and the agent never
    gets a status. So a write is never interrupted: :meth:`stop` cancels the loop
    between writes and waits for the write in flight, and only then may the
    handler end the call.
    """

    def __init__(
        self, context: grpc.aio.ServicerContext[Any, Any], session: AgentSession, heartbeat_s: float
    ) -> None:
        self._context = context
        self._session = session
        self._heartbeat_s = heartbeat_s
        self._in_flight: asyncio.Future[None] | None = None

    async def run(self) -> None:
        while True:
            try:
                message = await asyncio.wait_for(self._session.outbox.get(), self._heartbeat_s)
            except TimeoutError:
                message = agent_pb2.MessageToAgent(heartbeat_request=agent_pb2.HeartbeatRequest())
            if message is ACKS_READY:
                message = self._session.take_acks()
            # The agent times its clock against these: stamp them as late as possible.
            kind = message.WhichOneof("payload")
            if kind == "heartbeat_request":
                message.heartbeat_request.server_time_unix_ms = now_ms()
            elif kind == "server_handshake_ack":
                message.server_handshake_ack.server_time_unix_ms = now_ms()
            self._in_flight = asyncio.ensure_future(self._context.write(message))
            # A failed write is the call ending, not news; it may end after stop() stopped waiting.
            self._in_flight.add_done_callback(_retrieve_quietly)
            await asyncio.shield(self._in_flight)

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._in_flight is not None and not self._in_flight.done():
            # Bounded: a peer that stopped reading can hold a write forever.
            await asyncio.wait({self._in_flight}, timeout=WRITE_DRAIN_S)


def _retrieve_quietly(write: asyncio.Future[None]) -> None:
    if not write.cancelled():
        write.exception()
