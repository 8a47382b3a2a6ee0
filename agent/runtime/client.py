"""The agent's end of ``EstablishCommunicationStream``: connect, handshake, deliver, reconnect."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable

import grpc

from agent.config import ServerSettings, TlsSettings
from agent.runtime.bundling import BundleLimits, BundlePlanner
from agent.runtime.channel import open_channel
from agent.runtime.clock import ClockEstimator, wall_clock_ms
from agent.runtime.live import LiveSettings, features_to_proto
from agent.runtime.pending import PendingStore
from agent.runtime.session import Session, SessionEnded
from common.backoff import Backoff
from proto import agent_pb2, agent_pb2_grpc

__all__ = ["AuthenticationFailed", "StreamClient"]

log = logging.getLogger(__name__)

_AUTH_CODES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class AuthenticationFailed(Exception):
    """The collector refused this agent's token."""


# The collector ends a stream with NOT_FOUND when its VPS was removed from Tidewatch.
_REMOVED_CODE = grpc.StatusCode.NOT_FOUND


class StreamClient:
    """Keeps one stream to the collector open, for as long as :meth:`run` runs.

    Batches come from the :class:`PendingStore`; command responses and other
    control messages from :meth:`send_control`. A lost connection is retried
    with full-jitter backoff; a refused token with a much longer one.
    """

    def __init__(
        self,
        *,
        server: ServerSettings,
        tls: TlsSettings,
        store: PendingStore,
        settings: LiveSettings,
        agent_version: str,
        host_info: Callable[[], agent_pb2.HostInfo],
        on_command: Callable[[agent_pb2.CommandRequest], None],
        on_pty: Callable[[agent_pb2.PtyDataToAgent], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        auth_backoff: Backoff | None = None,
        max_in_flight: int = 32,
        handshake_timeout_s: float = 30.0,
        stable_after_s: float = 30.0,
        reconnect_spread_s: float = 5.0,
        control_queue_max: int = 1024,
        channel_factory: Callable[[], grpc.aio.Channel] | None = None,
        clock: ClockEstimator | None = None,
        removed_retry_s: float = 600.0,
        batch_bundles: bool = True,
    ) -> None:
        self._server = server
        self._store = store
        self._settings = settings
        self._agent_version = agent_version
        self._host_info = host_info
        self._on_command = on_command
        self._on_pty = on_pty
        self._on_disconnect = on_disconnect
        self._backoff = backoff or Backoff(base_s=0.5, cap_s=30.0)
        # A wrong token will not fix itself in seconds: wait minutes, not hammer.
        self._auth_backoff = auth_backoff or Backoff(base_s=60.0, cap_s=900.0)
        self._max_in_flight = max_in_flight
        self._handshake_timeout_s = handshake_timeout_s
        self._stable_after_s = stable_after_s
        self._reconnect_spread_s = reconnect_spread_s
        self._control: deque[agent_pb2.MessageToServer] = deque()
        self._control_max = control_queue_max
        self.control_dropped_total = 0
        self._channel_factory = channel_factory or (lambda: open_channel(server, tls))
        # Once told the VPS was removed, only a reinstall helps: look again rarely.
        self._removed_retry_s = removed_retry_s
        self._removed = False
        self._wakeup = asyncio.Event()
        self._session: Session | None = None
        self.connected = False
        self.collector_id = ""
        self.vps_id = 0
        # Set by the runtime: Docker samples that overran their interval so far.
        self.docker_sample_overruns: Callable[[], int] = lambda: 0
        # The offset of this host's clock from the collector's, kept across streams.
        self.clock = clock or ClockEstimator()
        # Batches the collector refused for good (OUTCOME_REJECTED) since start.
        self.rejected_total = 0
        # Announce batch bundles; they are used only when the collector offers them.
        self._batch_bundles = batch_bundles
        self.bundle_limits: BundleLimits | None = None  # this stream's offer, if any
        # Set by the runtime: when the next performance batch is due (monotonic), if known.
        self.next_batch_due: Callable[[], float | None] = lambda: None

    # -- called by the rest of the agent -------------------------------------------------

    def wake(self) -> None:
        """Tell the writer that there may be something new to send."""
        self._wakeup.set()

    def send_control(self, message: agent_pb2.MessageToServer, *, urgent: bool = False) -> None:
        """Queue a non-batch message; kept across reconnects, bounded."""
        if len(self._control) >= self._control_max:
            dropped = self._control.popleft()
            self.control_dropped_total += 1
            log.warning("control queue full; dropped a %s message", dropped.WhichOneof("payload"))
        if urgent:
            self._control.appendleft(message)
        else:
            self._control.append(message)
        self.wake()

    def heartbeat(self) -> agent_pb2.MessageToServer:
        """A Heartbeat carrying the delivery counters and the clock estimate; also a clock probe."""
        estimate = self.clock.estimate()
        return agent_pb2.MessageToServer(
            heartbeat=agent_pb2.Heartbeat(
                timestamp_unix_ms=wall_clock_ms(),
                pending_batches=self._store.pending_count,
                spooled_bytes=self._store.spooled_bytes,
                dropped_batches_total=self._store.dropped_total + self.rejected_total,
                clock_offset_ms=estimate.offset_ms,
                clock_rtt_ms=estimate.rtt_ms,
                clock_offset_known=estimate.known,
                rejected_batches_total=self.rejected_total,
                clock_probe_id=self.clock.open_probe(),
                docker_sample_overruns_total=self.docker_sample_overruns(),
                control_messages_dropped_total=self.control_dropped_total,
            )
        )

    def _count_rejected(self) -> None:
        self.rejected_total += 1

    async def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is pending or ``timeout_s`` passes; True when all was acked."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._store.pending_count == 0 and not self._control:
                return True
            if not self.connected:
                return False
            await asyncio.sleep(0.05)
        return self._store.pending_count == 0

    # -- the reconnect loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Connect and reconnect forever; only cancellation ends it."""
        while True:
            started = time.monotonic()
            backoff = self._backoff
            try:
                await self._connect_once()  # only ever ends by raising
            except AuthenticationFailed as exc:
                backoff = self._auth_backoff
                if not self._removed:
                    log.error(
                        "collector %s refused this agent's token (%s). Check server.token or "
                        "server.token_file in the agent config (or TIDEWATCH_AGENT_TOKEN): it must "
                        "be the agent key issued for this VPS. Fix it and restart the agent "
                        "(systemctl restart tidewatch-agent); retrying slowly meanwhile.",
                        self._server.address,
                        exc,
                    )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == _REMOVED_CODE:
                    self._removed = True
                else:
                    log.warning(
                        "stream to %s failed: %s %s",
                        self._server.address,
                        exc.code().name,
                        exc.details() or "",
                    )
            except SessionEnded as exc:
                if exc.code == _REMOVED_CODE:
                    self._removed = True
                else:
                    log.warning("stream to %s ended: %s", self._server.address, exc)
            except OSError as exc:
                log.warning("stream to %s ended: %s", self._server.address, exc)
            except Exception:
                # Whatever it was, the agent keeps trying: a bug here must not
                # turn into a VPS that silently stops reporting.
                log.exception("unexpected error on the stream to %s", self._server.address)
            finally:
                self._disconnected()
            if self._removed:
                delay = self._removed_retry_s * random.uniform(0.8, 1.0)
                log.error(
                    "this VPS was removed from Tidewatch (collector %s). Add it again in Tidewatch "
                    "and reinstall the agent with the new token, or uninstall the agent; "
                    "trying again in %.0f s.",
                    self._server.address,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            delay = self.reconnect_delay(
                backoff, stable=self.stable_since(started), established=self._session is not None
            )
            log.info("reconnecting to %s in %.1f s", self._server.address, delay)
            await asyncio.sleep(delay)

    def reconnect_delay(self, backoff: Backoff, *, stable: bool, established: bool = False) -> float:
        """The wait before the next attempt.

        A stream that had been up for a while most often drops because its collector
        restarted, and then the whole fleet lost it at the same moment: the first retry is
        drawn over ``reconnect_spread_s`` (not the backoff's first half second), so the
        collector sees a few hundred handshakes a second instead of the fleet at once.
        A stream that was established but dropped sooner (a second restart within
        ``stable_after_s``, say) is spread as widely, and still counts as a failed attempt,
        so a stream that keeps dropping backs off further.
        """
        if stable:
            self._backoff.reset()
            return random.uniform(0.0, min(self._reconnect_spread_s, self._backoff.cap_s))
        if established:
            ceiling = min(max(self._reconnect_spread_s, backoff.ceiling()), backoff.cap_s)
            backoff.attempts += 1
            return random.uniform(0.0, ceiling)
        return backoff.next_delay()

    def stable_since(self, started: float) -> bool:
        """Whether a connection that began at ``started`` lasted long enough to reset backoff."""
        return self._session is not None and time.monotonic() - started >= self._stable_after_s

    def _disconnected(self) -> None:
        was_connected = self.connected
        self.connected = False
        if was_connected and self._on_disconnect is not None:
            self._on_disconnect()

    async def _connect_once(self) -> None:
        self._session = None
        channel = self._channel_factory()
        try:
            stub = agent_pb2_grpc.AgentCommunicationServiceStub(channel)  # type: ignore[no-untyped-call]
            call = stub.EstablishCommunicationStream(
                metadata=(("authorization", f"Bearer {self._server.token}"),)
            )
            try:
                ack = await self._handshake(call)
                self.bundle_limits = BundleLimits.offered(ack, self._server.max_message_bytes)
                self._session = Session(
                    call,
                    store=self._store,
                    settings=self._settings,
                    control=self._control,
                    wakeup=self._wakeup,
                    max_in_flight=self._max_in_flight,
                    heartbeat=self.heartbeat,
                    on_command=self._on_command,
                    on_pty=self._on_pty,
                    clock=self.clock,
                    on_rejected=self._count_rejected,
                    bundles=self._planner(self.bundle_limits),
                )
                # First on the new stream: the collector learns this agent's clock
                # offset before any batch that needs it.
                self._control.appendleft(self.heartbeat())
                self.connected = True
                self.collector_id, self.vps_id = ack.collector_id, ack.vps_id
                oldest, newest = self._store.oldest_newest()
                estimate = self.clock.estimate()
                log.info(
                    "connected to collector %s (%s) as vps %d; %d batches pending (%d..%d); "
                    "collector clock minus ours %+d ms (round trip %d ms); %s",
                    self._server.address,
                    ack.collector_id or "?",
                    ack.vps_id,
                    self._store.pending_count,
                    oldest,
                    newest,
                    estimate.offset_ms,
                    estimate.rtt_ms,
                    "single batches"
                    if self.bundle_limits is None
                    else f"batch bundles of up to {self.bundle_limits.max_batches} batches",
                )
                self._auth_backoff.reset()
                self._removed = False
                await self._session.run()
            finally:
                call.cancel()
        finally:
            await channel.close(grace=None)

    def _planner(self, limits: BundleLimits | None) -> BundlePlanner | None:
        if limits is None:
            return None
        return BundlePlanner(
            limits,
            self._store,
            next_batch_due=lambda: self.next_batch_due(),
            hold_max_s=lambda: self._settings.intervals.batch_max_delay_s,
        )

    async def _handshake(self, call: grpc.aio.StreamStreamCall) -> agent_pb2.ServerHandshakeAck:
        host = await asyncio.to_thread(self._host_info)
        oldest, newest = self._store.oldest_newest()
        handshake = agent_pb2.AgentHandshake(
            agent_version=self._agent_version,
            host=host,
            local_features=features_to_proto(self._settings.local_features),
            oldest_pending_sequence=oldest,
            newest_pending_sequence=newest,
            sequence_epoch=self._store.epoch,
            agent_time_unix_ms=wall_clock_ms(),
        )
        if self._batch_bundles:
            handshake.batch_bundling.supported = True
        try:
            sent_at = self.clock.now_boot_s()
            await call.write(agent_pb2.MessageToServer(agent_handshake=handshake))
            reply = await asyncio.wait_for(call.read(), self._handshake_timeout_s)
            received_at = self.clock.now_boot_s()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            # The call may end before our first write (a refused token, a refused
            # connection): its status says why either way.
            reply = grpc.aio.EOF
        except TimeoutError:
            raise SessionEnded(f"no handshake ack within {self._handshake_timeout_s:g} s") from None
        if reply is grpc.aio.EOF:
            code = await call.code()
            details = await call.details()
            if code in _AUTH_CODES:
                raise AuthenticationFailed(f"{code.name}: {details}")
            raise SessionEnded(f"no handshake ack ({code.name}: {details or 'no details'})")
        if reply.WhichOneof("payload") != "server_handshake_ack":
            raise SessionEnded(f"expected ServerHandshakeAck, got {reply.WhichOneof('payload')}")
        ack: agent_pb2.ServerHandshakeAck = reply.server_handshake_ack
        if not ack.authenticated:
            raise AuthenticationFailed("handshake ack says not authenticated")
        self.clock.add_handshake(
            sent_boot_s=sent_at, received_boot_s=received_at, server_time_ms=ack.server_time_unix_ms
        )
        if ack.HasField("initial_config"):
            self._settings.apply(ack.initial_config)
        # Heartbeats and PTY output from an earlier stream are stale; command results are not.
        kept = [m for m in self._control if m.WhichOneof("payload") == "command_response"]
        self._control.clear()
        self._control.extend(kept)
        return ack
