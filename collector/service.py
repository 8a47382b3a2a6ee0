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
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc
import psycopg
from google.protobuf.message import DecodeError
from psycopg_pool import PoolTimeout

from collector import metrics
from collector.agent_clock import now_ms
from collector.agent_session import AgentSession
from collector.agent_state import AgentStateWriter
from collector.auth import AgentAuthenticator, AuthFailure
from collector.bundles import BundleRefused, bundle_batches, bundling_offer
from collector.call_writer import CallWriter
from collector.commands import CommandRelay
from collector.ingest import AckResult, IngestWriter, Outcome, QueueFull
from collector.peer_limits import StreamsPerIp, peer_address, peer_ip
from collector.rows import TimeRules, clock_rules, convert_batch
from collector.sessions import SessionRegistry
from collector.validation import InvalidBatch
from common.settings import CollectorSettings
from proto import agent_pb2

__all__ = ["MALFORMED", "AgentStreamService", "new_handshake_slots", "parse_message_to_server"]

log = logging.getLogger("tidewatch.collector.service")

HANDSHAKE_TIMEOUT_S = 15.0
_PROBE_REPLY_OUTBOX_MAX = 64
_ENDED_EARLY = "the request stream ended (half-closed, or a message cut short)"
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


def new_handshake_slots(settings: CollectorSettings) -> asyncio.Semaphore:
    """Pool connections that handshakes (lookups and registrations) may hold at once:
    all but two, which stay for the flushers."""
    return asyncio.Semaphore(max(1, settings.pool_max_size - 2))


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
        handshake_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._registry = registry
        self._writer = writer
        self._commands = commands
        self._agent_state = agent_state
        self._raw_retention_s = raw_retention_s
        # Registration takes pool connections (register, pending commands): in a
        # reconnect storm they queue here rather than time out on the pool, and leave
        # connections to the flushers. The authenticator's lookups take the same slots.
        self._handshakes = handshake_slots or new_handshake_slots(settings)
        self.unestablished = StreamsPerIp(settings.unestablished_streams_per_ip)
        self.established_peers: Counter[tuple[str, int]] = Counter()

    def _time_rules(self) -> TimeRules:
        return TimeRules(
            now_ms=now_ms(),
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
        ip = peer_ip(context.peer())
        if not self.unestablished.acquire(ip):
            if self.unestablished.refuse() & (self.unestablished.refused - 1) == 0:  # 1st, 2nd, 4th…
                log.warning(
                    "refused %d stream(s) over the per-IP limit of %d; latest from %s",
                    self.unestablished.refused,
                    self.unestablished.limit,
                    ip,
                )
            await self._abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many streams from {ip} not yet established (limit {self.unestablished.limit});"
                " retry later",
            )
        try:
            session = await self._establish(requests, context)
        finally:
            self.unestablished.release(ip)
        vps_id = session.vps_id
        # The connection cap (collector.connection_cap) never closes a connection carrying an agent.
        address = peer_address(context.peer())
        if address is not None:
            self.established_peers[address] += 1

        writer = CallWriter(context, session, self._settings.heartbeat_interval_s)
        writing = asyncio.create_task(writer.run(), name=f"agent-{vps_id}-writer")
        reader = asyncio.create_task(self._read_loop(session, requests), name=f"agent-{vps_id}-reader")
        cut = asyncio.create_task(session.cut_event.wait())
        ending: tuple[grpc.StatusCode, str] | None = None
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait({reader, writing, cut}, return_when=asyncio.FIRST_COMPLETED)
            if cut in done:
                ending = (session.cut_code, session.cut_reason or "stream closed by the server")
            elif reader in done:
                error = reader.exception()
                if error is None:
                    ending = (grpc.StatusCode.INVALID_ARGUMENT, _ENDED_EARLY + "; agents keep it open")
                elif isinstance(error, _StreamError):
                    ending = (error.code, error.detail)
                else:
                    failure = error
                if ending is not None:
                    log.warning("vps %d: %s", vps_id, ending[1])
            # The writer ends only when the call is gone: there is no one to tell.
        finally:
            for task in (reader, cut):
                task.cancel()
            # The status goes out only after the last write has left: see CallWriter.
            await writer.stop(writing)
            await asyncio.gather(reader, cut, return_exceptions=True)
            if address is not None:
                self.established_peers[address] -= 1
                if self.established_peers[address] <= 0:
                    del self.established_peers[address]
            await self._registry.close(session)
            if not self._registry.stopping:  # at shutdown, CollectorApp.stop ends them in bulk
                try:
                    await self._commands.fail_in_flight(vps_id, session.stream_id)
                except Exception as exc:  # the next stream of this agent fails them instead
                    log.warning("vps %d: in-flight commands not ended yet: %s", vps_id, exc)
            self._registry.stream_done(session)
            log.info("vps %d disconnected", vps_id)
        if failure is not None:
            raise failure
        if ending is not None:
            await self._abort(context, *ending)

    async def _establish(
        self,
        requests: AsyncIterator[agent_pb2.MessageToServer | _Malformed],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AgentSession:
        """Authenticate, take the handshake, register the session and queue its ack."""
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        try:
            # Not under self._handshakes: the authenticator reads the rows of a storm's
            # handshakes in one statement, and bounds its own argon2 work.
            identity = await self._auth.authenticate(metadata.get("authorization"))
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
        except TimeoutError:
            await self._abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, "no agent_handshake received")
        except StopAsyncIteration:
            # gRPC ends the request side the same way for a clean half-close and for a
            # message cut short by END_STREAM: either way the agent sent no handshake.
            await self._abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, _ENDED_EARLY + " before agent_handshake"
            )
        first_received_ms = now_ms()
        if isinstance(first, _Malformed):
            await self._abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed MessageToServer: {first.error}"
            )
        if first.WhichOneof("payload") != "agent_handshake":
            await self._abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, "the first message must be agent_handshake"
            )

        handshake = first.agent_handshake
        vps_id = identity.vps_id
        session = AgentSession(
            vps_id=vps_id,
            epoch=handshake.sequence_epoch,
            local_features=handshake.local_features,
            token_hash=identity.token_hash,
        )
        session.clock.from_handshake(handshake, first_received_ms)
        bundling = bundling_offer(self._settings, handshake)
        session.bundles = bundling is not None
        async with self._handshakes:
            try:
                config = await self._registry.open(session, handshake)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                log.error("vps %d: cannot register the stream (database?): %s", vps_id, str(exc).strip())
                await self._abort(
                    context, grpc.StatusCode.UNAVAILABLE, "collector cannot reach its database; retry later"
                )
            self._registry.clock_reported(session)
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
                        server_time_unix_ms=now_ms(),  # stamped again as it is written
                        collector_id=self._settings.collector_id,
                        batch_bundling=bundling,
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

        return session

    async def _read_loop(
        self, session: AgentSession, requests: AsyncIterator[agent_pb2.MessageToServer | _Malformed]
    ) -> None:
        async for message in requests:
            received_ms = now_ms()
            if isinstance(message, _Malformed):
                raise _StreamError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"malformed MessageToServer: {message.error}"
                )
            self._registry.heard_from(session)
            kind = message.WhichOneof("payload")
            if kind in BATCH_PAYLOADS:
                await self._accept_batch(session, kind, getattr(message, kind))
            elif kind == "batch_bundle":
                await self._accept_bundle(session, message.batch_bundle)
            elif kind == "command_response":
                await self._commands.record_response(session.vps_id, message.command_response)
            elif kind == "heartbeat":
                self._on_heartbeat(session, message.heartbeat, received_ms)
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

    def _on_heartbeat(self, session: AgentSession, heartbeat: agent_pb2.Heartbeat, received_ms: int) -> None:
        # Liveness is heard_from's job; here, the clock.
        # A probe is answered only while the agent reads what it is sent: flooding
        # heartbeats must not grow the outbox without bound.
        if heartbeat.clock_probe_id and session.outbox.qsize() < _PROBE_REPLY_OUTBOX_MAX:
            session.send(
                agent_pb2.MessageToAgent(
                    heartbeat_request=agent_pb2.HeartbeatRequest(
                        probe_id=heartbeat.clock_probe_id, probe_received_unix_ms=received_ms
                    )
                )
            )
        session.clock.from_heartbeat(heartbeat, received_ms)
        self._registry.clock_reported(session)

    def _acknowledge(self, session: AgentSession, sequence: int, result: AckResult) -> None:
        if result.outcome is Outcome.REJECTED:
            self._registry.rejected(session.vps_id, result.detail)
        session.send_ack(_ack(sequence, result))

    async def _accept_bundle(self, session: AgentSession, bundle: agent_pb2.BatchBundle) -> None:
        if not session.bundles:
            raise _StreamError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "batch_bundle sent, but this collector did not offer bundles on this stream",
            )
        metrics.BUNDLES.inc()
        try:
            for kind, batch in bundle_batches(bundle, self._settings.bundle_max_batches):
                await self._accept_batch(session, kind, batch)
        except BundleRefused as exc:
            raise _StreamError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None

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
            rules = clock_rules(self._time_rules(), batch, session.clock.offset_ms)
            converted = convert_batch(kind, batch, session.vps_id, rules)
        except InvalidBatch as exc:
            metrics.BATCHES.labels("rejected", "invalid").inc()
            log.warning("vps %d: rejected %s %d: %s", session.vps_id, kind, batch.sequence, exc)
            self._acknowledge(
                session,
                batch.sequence,
                AckResult(Outcome.REJECTED, grpc.StatusCode.INVALID_ARGUMENT.value[0], str(exc)),
            )
            return
        try:
            future = await self._writer.submit(
                session.vps_id, session.epoch, converted, max(0.0, deadline - time.monotonic())
            )
        except QueueFull as exc:
            raise _backpressure(exc) from None
        sequence = converted.sequence
        future.add_done_callback(lambda f: self._acknowledge(session, sequence, f.result()))


class _StreamError(Exception):
    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _backpressure(exc: QueueFull) -> _StreamError:
    metrics.BATCHES.labels("refused", "backpressure").inc()
    return _StreamError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{exc}; keep the batch and retry later")


def _ack(sequence: int, result: AckResult) -> agent_pb2.BatchAck:
    return agent_pb2.BatchAck(
        sequence=sequence,
        outcome=_ACK_OUTCOMES[result.outcome],
        status_code=result.status_code,
        detail=result.detail[:1024],
    )
