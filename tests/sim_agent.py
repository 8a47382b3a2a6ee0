"""A simulated agent that keeps the real agent's delivery contract, for fault tests.

The contract (agent/runtime): every batch is kept until the collector acks it;
when the stream fails the agent reconnects with backoff, in the same sequence
epoch, and resends everything still unacknowledged, oldest first. Batches are
produced on a timer whether or not a stream is up, so a test can keep load
going through a collector or database outage and then count rows exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
from collections import Counter

import grpc

from agent.config import ServerSettings, TlsSettings
from agent.runtime.channel import channel_options
from common.backoff import Backoff
from proto import agent_pb2, agent_pb2_grpc
from tests.factories import docker_batch, now_ms, performance_batch
from tests.stream_client import handshake

__all__ = ["SimAgent"]

DISKS = 4
INTERFACES = 3
DOCKER_EVERY = 4  # every fourth batch is a Docker batch
SAMPLE_STEP_MS = 100


class SimAgent:
    """Produce batches on a timer and deliver each one exactly as the real agent does."""

    __test__ = False

    def __init__(
        self,
        target: str,
        token: str,
        *,
        epoch: int = 1,
        vps_id: int = 0,
        snapshots_per_batch: int = 2,
        containers: int = 3,
        batch_interval_s: float = 0.05,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 1.0,
    ) -> None:
        self.target = target
        self.token = token
        self.epoch = epoch
        self.vps_id = vps_id
        self._snapshots_per_batch = snapshots_per_batch
        self._containers = containers
        self._batch_interval_s = batch_interval_s
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        # Sample times start in the recent past and advance faster than real time.
        self._next_sample_ms = now_ms() - 300_000
        self._sequence = itertools.count(1)
        # Unacknowledged batches by sequence; dict order is send order (oldest first).
        self.pending: dict[int, agent_pb2.MessageToServer] = {}
        self.outcomes: dict[int, int] = {}
        self.expected_rows: Counter[str] = Counter()
        self.produced = 0
        self.produced_while_disconnected = 0
        self.sends = 0
        self.connects = 0
        self.stream_failures: list[str] = []
        self.connected = False
        self._wakeup = asyncio.Event()
        self._acked = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None

    # -- producing ----------------------------------------------------------------------

    def _make_batch(self) -> agent_pb2.MessageToServer:
        sequence = next(self._sequence)
        if sequence % DOCKER_EVERY == 0:
            t = self._next_sample_ms
            self._next_sample_ms += SAMPLE_STEP_MS
            self.expected_rows["container_metrics"] += self._containers
            return agent_pb2.MessageToServer(
                docker_batch=docker_batch(sequence, t, containers=self._containers)
            )
        times = [self._next_sample_ms + i * SAMPLE_STEP_MS for i in range(self._snapshots_per_batch)]
        self._next_sample_ms += SAMPLE_STEP_MS * self._snapshots_per_batch
        n = len(times)
        self.expected_rows["host_metrics"] += n
        self.expected_rows["disk_metrics"] += n * DISKS
        self.expected_rows["disk_io_metrics"] += n * max(1, DISKS // 2)
        self.expected_rows["network_metrics"] += n * INTERFACES
        return agent_pb2.MessageToServer(
            performance_batch=performance_batch(sequence, times, disks=DISKS, interfaces=INTERFACES)
        )

    async def _produce(self) -> None:
        while True:
            message = self._make_batch()
            sequence = getattr(message, message.WhichOneof("payload")).sequence
            self.pending[sequence] = message
            self.produced += 1
            if not self.connected:
                self.produced_while_disconnected += 1
            self._wakeup.set()
            await asyncio.sleep(self._batch_interval_s)

    # -- delivering ---------------------------------------------------------------------

    def start(self) -> None:
        self._producer = asyncio.create_task(self._produce(), name=f"sim-{self.token[:8]}-produce")
        self._delivery = asyncio.create_task(self._deliver_forever(), name=f"sim-{self.token[:8]}-deliver")

    async def stop_producing(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)

    async def wait_all_acked(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while self.pending:
                self._acked.clear()
                await self._acked.wait()

    def where_delivery_waits(self) -> str:
        """The delivery task's stack: where a stuck agent is waiting, for a failure message."""
        if self._delivery is None or self._delivery.done():
            return "delivery not running"
        out = io.StringIO()
        self._delivery.print_stack(file=out)
        return out.getvalue()

    async def close(self) -> None:
        await self.stop_producing()
        if self._delivery is not None:
            self._delivery.cancel()
            await asyncio.gather(self._delivery, return_exceptions=True)

    async def _deliver_forever(self) -> None:
        backoff = Backoff(base_s=self._backoff_base_s, cap_s=self._backoff_cap_s)  # the real agent's
        while True:
            self.connected = False
            try:
                await self._one_stream()
                self.stream_failures.append("closed by the collector")
            except grpc.aio.AioRpcError as exc:
                self.stream_failures.append(exc.code().name)
            except (ConnectionError, TimeoutError, grpc.aio.UsageError) as exc:
                self.stream_failures.append(f"{type(exc).__name__}: {exc}")
            if self.connected:
                backoff.reset()
            self.connected = False
            await asyncio.sleep(backoff.next_delay())

    async def _one_stream(self) -> None:
        # The real agent's channel options (keepalive, no gRPC retries: it resends
        # itself), and a connection of its own, as each real agent has.
        options = [
            *channel_options(ServerSettings(self.target, self.token), TlsSettings(enabled=False)),
            ("grpc.use_local_subchannel_pool", 1),
        ]
        async with grpc.aio.insecure_channel(self.target, options=options) as channel:
            stub = agent_pb2_grpc.AgentCommunicationServiceStub(channel)  # type: ignore[no-untyped-call]
            call = stub.EstablishCommunicationStream(metadata=(("authorization", f"Bearer {self.token}"),))
            try:
                await call.write(handshake(self.epoch))
                reply = await asyncio.wait_for(call.read(), 10)
                if reply is grpc.aio.EOF:
                    raise ConnectionError(f"stream closed before the handshake ack ({await call.code()})")
                if reply.WhichOneof("payload") != "server_handshake_ack":
                    raise ConnectionError(f"expected a handshake ack, got {reply.WhichOneof('payload')}")
                self.connected = True
                self.connects += 1
                reader = asyncio.create_task(self._read_acks(call))
                writer = asyncio.create_task(self._write_pending(call))
                try:
                    done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                finally:
                    for task in (reader, writer):
                        task.cancel()
                    await asyncio.gather(reader, writer, return_exceptions=True)
            finally:
                call.cancel()

    async def _read_acks(self, call: grpc.aio.StreamStreamCall) -> None:
        while (message := await call.read()) is not grpc.aio.EOF:
            if message.WhichOneof("payload") == "batch_ack":
                ack = message.batch_ack
                if self.pending.pop(ack.sequence, None) is not None:
                    self.outcomes[ack.sequence] = ack.outcome
                    self._acked.set()

    async def _write_pending(self, call: grpc.aio.StreamStreamCall) -> None:
        sent: set[int] = set()  # per stream: a new stream resends everything unacked
        while True:
            self._wakeup.clear()
            for sequence, message in list(self.pending.items()):
                if sequence not in sent and sequence in self.pending:
                    await call.write(message)
                    sent.add(sequence)
                    self.sends += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), 0.5)
