"""The ``EstablishCommunicationStream`` handler: one agent, one stream.

Flow: authenticate from metadata, require a handshake first, register the
session, then read batches (validate, queue, ack after commit), heartbeats and
command output, while a writer task sends acks, commands, config and
heartbeat requests from the session's outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc
import psycopg
from google.protobuf.message import DecodeError
from psycopg_pool import PoolTimeout

from collector import metrics
from collector.agent_state import AgentStateWriter
from collector.auth import AgentAuthenticator, AuthFailure
from collector.commands import CommandRelay
from collector.ingest import AckResult, IngestWriter, Outcome, QueueFull
from collector.rows import TimeRules, convert_batch
from collector.sessions import AgentSession, SessionRegistry
from collector.validation import InvalidBatch
from common.settings import CollectorSettings
from proto import agent_pb2

__all__ = ["MALFORMED", "AgentStreamService", "parse_message_to_server"]

log = logging.getLogger("tidewatch.collector.service")

HANDSHAKE_TIMEOUT_S = 15.0
BATCH_PAYLOADS = frozenset({"performance_batch", "docker_batch", "generic_metrics_batch"})
_ACK_OUTCOMES = {
    Outcome.STORED: agent_pb2.BatchAck.OUTCOME_STORED,
    Outcome.DUPLICATE: agent_pb2.BatchAck.OUTCOME_DUPLICATE,
    Outcome.REJECTED: agent_pb2.BatchAck.OUTCOME_REJECTED,
}


class _Malformed:
    """Stands in for a message that did not parse, so the handler can answer precisely."""

    def __init__(self, error: str) -> None:
        self.error = error


MALFORMED = _Malformed


def parse_message_to_server(data: bytes) -> agent_pb2.MessageToServer | _Malformed:
    message = agent_pb2.MessageToServer()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        return _Malformed(str(exc) or "not a MessageToServer")
    return message


class AgentStreamService:
    def __init__(
        self,
        settings: CollectorSettings,
        auth: AgentAuthenticator,
        registry: SessionRegistry,
        writer: IngestWriter,
        commands: CommandRelay,
        raw_retention_s: float,
        agent_state: AgentStateWriter | None = None,
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._registry = registry
        self._writer = writer
        self._commands = commands
        self._agent_state = agent_state
        self._raw_retention_s = raw_retention_s
        # Handshakes take pool connections (authenticate, register, pending commands): in a
        # reconnect storm they queue here rather than time out on the pool, and leave
        # connections to the flushers.
        self._handshakes = asyncio.Semaphore(max(1, settings.pool_max_size - 2))

    def _time_rules(self) -> TimeRules:
        return TimeRules(
            now_ms=int(time.time() * 1000),
            max_future_ms=int(self._settings.max_future_skew_s * 1000),
            max_age_ms=int(self._raw_retention_s * 1000),
        )

    @staticmethod
    async def _abort(
        context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, detail: str
    ) -> NoReturn:
        await context.abort(code, detail)
        raise AssertionError("unreachable: abort raises")

    async def stream(
        self,
        requests: AsyncIterator[agent_pb2.MessageToServer | _Malformed],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> None:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        try:
            async with self._handshakes:
                vps_id = await self._auth.authenticate(metadata.get("authorization"))
        except AuthFailure as exc:
            log.warning("refused agent from %s: %s", context.peer(), exc)
            await self._abort(context, grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except Exception as exc:
            log.error("cannot authenticate agent from %s (database?): %s", context.peer(), exc)
            await self._abort(
                context, grpc.StatusCode.UNAVAILABLE, "collector cannot reach its database; retry later"
            )

        try:
            first = await asyncio.wait_for(anext(requests), HANDSHAKE_TIMEOUT_S)
        except (TimeoutError, StopAsyncIteration):
            await self._abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, "no agent_handshake received")
        if isinstance(first, _Malformed):
            await self._abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed MessageToServer: {first.error}"
            )
        if first.WhichOneof("payload") != "agent_handshake":
            await self._abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, "the first message must be agent_handshake"
            )

        handshake = first.agent_handshake
        session = AgentSession(
            vps_id=vps_id, epoch=handshake.sequence_epoch, local_features=handshake.local_features
        )
        async with self._handshakes:
            try:
                config = await self._registry.open(session, handshake)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.error("vps %d: cannot register the stream (database?): %s", vps_id, str(exc).strip())
                await self._abort(
                    context, grpc.StatusCode.UNAVAILABLE, "collector cannot reach its database; retry later"
                )
            log.info(
                "vps %d connected from %s (agent %s, epoch %d)",
                vps_id,
                context.peer(),
                handshake.agent_version,
                handshake.sequence_epoch,
            )
            session.send(
                agent_pb2.MessageToAgent(
                    server_handshake_ack=agent_pb2.ServerHandshakeAck(
                        authenticated=True,
                        vps_id=vps_id,
                        initial_config=config,
                        server_time_unix_ms=int(time.time() * 1000),
                        collector_id=self._settings.collector_id,
                    )
                )
            )
            try:
                await self._commands.dispatch_pending([vps_id])
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.warning("vps %d: pending commands wait for the database: %s", vps_id, str(exc).strip())
            try:
                # A new stream means any older one is gone: what it carried cannot answer.
                await self._commands.fail_in_flight(vps_id, except_stream=session.stream_id)
                if self._agent_state is not None:
                    await self._agent_state.store_features(vps_id, handshake.local_features)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.warning("vps %d: agent state not recorded (database?): %s", vps_id, str(exc).strip())

        writer = asyncio.create_task(self._write_loop(session, context), name=f"agent-{vps_id}-writer")
        reader = asyncio.create_task(self._read_loop(session, requests), name=f"agent-{vps_id}-reader")
        cut = asyncio.create_task(session.cut_event.wait())
        try:
            done, _ = await asyncio.wait({reader, writer, cut}, return_when=asyncio.FIRST_COMPLETED)
            if cut in done:
                await self._abort(
                    context, grpc.StatusCode.ABORTED, session.cut_reason or "stream closed by the server"
                )
            if reader in done and (error := reader.exception()) is not None:
                if isinstance(error, _StreamError):
                    log.warning("vps %d: %s", vps_id, error.detail)
                    await self._abort(context, error.code, error.detail)
                raise error
        finally:
            for task in (reader, writer, cut):
                task.cancel()
            await asyncio.gather(reader, writer, cut, return_exceptions=True)
            await self._registry.close(session)
            try:
                await self._commands.fail_in_flight(vps_id, session.stream_id)
            except Exception as exc:  # the next stream of this agent fails them instead
                log.warning("vps %d: in-flight commands not ended yet: %s", vps_id, exc)
            log.info("vps %d disconnected", vps_id)

    async def _write_loop(self, session: AgentSession, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        interval = self._settings.heartbeat_interval_s
        while True:
            try:
                message = await asyncio.wait_for(session.outbox.get(), interval)
            except TimeoutError:
                message = agent_pb2.MessageToAgent(
                    heartbeat_request=agent_pb2.HeartbeatRequest(server_time_unix_ms=int(time.time() * 1000))
                )
            await context.write(message)

    async def _read_loop(
        self, session: AgentSession, requests: AsyncIterator[agent_pb2.MessageToServer | _Malformed]
    ) -> None:
        async for message in requests:
            if isinstance(message, _Malformed):
                raise _StreamError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"malformed MessageToServer: {message.error}"
                )
            self._registry.heard_from(session)
            kind = message.WhichOneof("payload")
            if kind in BATCH_PAYLOADS:
                await self._accept_batch(session, kind, getattr(message, kind))
            elif kind == "command_response":
                await self._commands.record_response(session.vps_id, message.command_response)
            elif kind == "heartbeat":
                if self._agent_state is not None:
                    self._agent_state.heartbeat(session.vps_id, message.heartbeat)
            elif kind == "pty_data":
                log.debug("vps %d sent PTY data, but no PTY session is open here", session.vps_id)
            elif kind == "agent_handshake":
                raise _StreamError(
                    grpc.StatusCode.FAILED_PRECONDITION, "agent_handshake sent twice on one stream"
                )
            else:
                raise _StreamError(grpc.StatusCode.INVALID_ARGUMENT, "MessageToServer has no payload")

    async def _accept_batch(self, session: AgentSession, kind: str, batch: Any) -> None:
        # Room first, then the costly conversion: an overloaded collector must not
        # convert batches it then refuses. Both waits share one queue_wait_s.
        wait_s = self._settings.queue_wait_s
        deadline = time.monotonic() + wait_s
        try:
            await self._writer.wait_for_room(wait_s)
        except QueueFull as exc:
            raise _backpressure(exc) from None
        try:
            converted = convert_batch(kind, batch, session.vps_id, self._time_rules())
        except InvalidBatch as exc:
            metrics.BATCHES.labels("rejected", "invalid").inc()
            log.warning("vps %d: rejected %s %d: %s", session.vps_id, kind, batch.sequence, exc)
            session.send(
                _ack(
                    batch.sequence,
                    AckResult(Outcome.REJECTED, grpc.StatusCode.INVALID_ARGUMENT.value[0], str(exc)),
                )
            )
            return
        try:
            future = await self._writer.submit(
                session.vps_id, session.epoch, converted, max(0.0, deadline - time.monotonic())
            )
        except QueueFull as exc:
            raise _backpressure(exc) from None
        sequence = converted.sequence
        future.add_done_callback(lambda f: session.send(_ack(sequence, f.result())))


class _StreamError(Exception):
    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _backpressure(exc: QueueFull) -> _StreamError:
    metrics.BATCHES.labels("refused", "backpressure").inc()
    return _StreamError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{exc}; keep the batch and retry later")


def _ack(sequence: int, result: AckResult) -> agent_pb2.MessageToAgent:
    return agent_pb2.MessageToAgent(
        batch_ack=agent_pb2.BatchAck(
            sequence=sequence,
            outcome=_ACK_OUTCOMES[result.outcome],
            status_code=result.status_code,
            detail=result.detail[:1024],
        )
    )
