"""The agent's stream client and runtime against a tiny in-test grpc.aio collector on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.config import (
    AgentSettings,
    FeatureSettings,
    IntervalSettings,
    ServerSettings,
    SpoolSettings,
    TlsSettings,
)
from agent.runtime.agent import AgentRuntime
from agent.runtime.client import StreamClient
from agent.runtime.live import LiveSettings
from agent.runtime.pending import PendingStore, batch_sequence
from agent.runtime.sampling import Samplers
from agent.runtime.sequence import SequenceAllocator
from agent.runtime.spool_log import SegmentLog
from common.backoff import Backoff
from proto import agent_pb2, agent_pb2_grpc

TOKEN = "s3cret"
Outcome = agent_pb2.BatchAck.Outcome


class FakeCollector(agent_pb2_grpc.AgentCommunicationServiceServicer):
    """Records what agents send; acks batches as told; can push messages and end streams."""

    def __init__(self) -> None:
        self.handshakes: list[agent_pb2.AgentHandshake] = []
        self.metadata: list[dict[str, str]] = []
        self.batches: list[agent_pb2.MessageToServer] = []
        self.others: list[agent_pb2.MessageToServer] = []
        self.outcome: Callable[[int], agent_pb2.BatchAck.Outcome | None] = lambda seq: Outcome.OUTCOME_STORED
        self.initial_config = agent_pb2.AgentConfig()
        self.to_agent: asyncio.Queue[agent_pb2.MessageToAgent | None] = asyncio.Queue()
        self.attempts = 0
        self.silent = False
        # This collector's clock runs this far ahead of the agent's; probes are answered.
        self.clock_ahead_ms = 0
        # Offer batch bundles to agents that announce them; the batch count of each bundle received.
        self.offer_bundles = False
        self.bundle_sizes: list[int] = []

    def sequences(self) -> list[int]:
        return [batch_sequence(m) for m in self.batches]

    def of_kind(self, kind: str) -> list[agent_pb2.MessageToServer]:
        return [m for m in self.others if m.WhichOneof("payload") == kind]

    async def EstablishCommunicationStream(self, request_iterator: Any, context: Any) -> None:
        self.attempts += 1
        metadata = {k: v for k, v in context.invocation_metadata()}
        self.metadata.append(metadata)
        if metadata.get("authorization") != f"Bearer {TOKEN}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown agent token")
        first = await context.read()
        self.handshakes.append(first.agent_handshake)
        if self.silent:
            await asyncio.Event().wait()  # never answers the handshake
        ack = agent_pb2.ServerHandshakeAck(
            authenticated=True,
            vps_id=7,
            collector_id="fake-1",
            initial_config=self.initial_config,
            server_time_unix_ms=time.time_ns() // 1_000_000 + self.clock_ahead_ms,
        )
        bundling = self.offer_bundles and first.agent_handshake.batch_bundling.supported
        if bundling:
            ack.batch_bundling.CopyFrom(
                agent_pb2.BatchBundling(supported=True, max_batches=8, max_bytes=1 << 20)
            )
        lock = asyncio.Lock()

        async def send(message: agent_pb2.MessageToAgent) -> None:
            async with lock:
                await context.write(message)

        await send(agent_pb2.MessageToAgent(server_handshake_ack=ack))
        ended = asyncio.Event()

        async def pump() -> None:
            while (message := await self.to_agent.get()) is not None:
                await send(message)
            ended.set()  # None: end this stream

        def take_batch(message: agent_pb2.MessageToServer) -> agent_pb2.BatchAck | None:
            self.batches.append(message)
            sequence = batch_sequence(message)
            outcome = self.outcome(sequence)
            if outcome is None:
                return None
            return agent_pb2.BatchAck(
                sequence=sequence,
                outcome=outcome,
                status_code=3 if outcome == 3 else 0,
                detail="snapshots[0].cpu_percent: must be 0..100" if outcome == 3 else "",
            )

        async def read() -> None:
            while (message := await context.read()) is not grpc.aio.EOF:
                if message.WhichOneof("payload") == "batch_bundle":
                    assert bundling, "a bundle without the collector's offer"
                    bundle = message.batch_bundle
                    singles = [
                        *(agent_pb2.MessageToServer(performance_batch=b) for b in bundle.performance_batches),
                        *(agent_pb2.MessageToServer(docker_batch=b) for b in bundle.docker_batches),
                        *(
                            agent_pb2.MessageToServer(generic_metrics_batch=b)
                            for b in bundle.generic_metrics_batches
                        ),
                    ]
                    self.bundle_sizes.append(len(singles))
                    acks = [a for a in map(take_batch, singles) if a is not None]
                    if acks:
                        await send(agent_pb2.MessageToAgent(batch_acks=agent_pb2.BatchAcks(acks=acks)))
                    continue
                if message.WhichOneof("payload") not in (
                    "performance_batch",
                    "docker_batch",
                    "generic_metrics_batch",
                ):
                    self.others.append(message)
                    if message.heartbeat.clock_probe_id:
                        now_ms = time.time_ns() // 1_000_000 + self.clock_ahead_ms
                        reply = agent_pb2.HeartbeatRequest(
                            probe_id=message.heartbeat.clock_probe_id,
                            probe_received_unix_ms=now_ms,
                            server_time_unix_ms=now_ms,
                        )
                        await send(agent_pb2.MessageToAgent(heartbeat_request=reply))
                    continue
                if (batch_ack := take_batch(message)) is not None:
                    await send(agent_pb2.MessageToAgent(batch_ack=batch_ack))
            ended.set()

        tasks = [asyncio.create_task(pump()), asyncio.create_task(read())]
        try:
            await ended.wait()
        finally:
            for task in tasks:
                task.cancel()


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def settled(count: Callable[[], int], quiet_s: float = 1.0, timeout_s: float = 30.0) -> int:
    """``count()`` once it has not changed for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    value, since = count(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "never settled"
        await asyncio.sleep(0.05)
        if (now := count()) != value:
            value, since = now, time.monotonic()
    return value


@pytest.fixture
async def fake_collector() -> AsyncIterator[tuple[FakeCollector, int]]:
    fake = FakeCollector()
    server = grpc.aio.server()
    agent_pb2_grpc.add_AgentCommunicationServiceServicer_to_server(fake, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, port
    await server.stop(grace=None)


def _store(tmp_path: Path, memory: int = 100) -> PendingStore:
    return PendingStore(
        SegmentLog(tmp_path / "spool", max_bytes=1 << 20, commit_interval_s=0),
        SequenceAllocator(tmp_path / "spool", clock_ms=lambda: 555),
        memory_max_batches=memory,
    )


def _batch(ms: int = 1) -> agent_pb2.MessageToServer:
    snap = agent_pb2.PerformanceSnapshot(timestamp_unix_ms=ms)
    return agent_pb2.MessageToServer(performance_batch=agent_pb2.PerformanceSnapshotBatch(snapshots=[snap]))


def _client(
    port: int, store: PendingStore, **kwargs: Any
) -> tuple[StreamClient, list[agent_pb2.CommandRequest]]:
    commands: list[agent_pb2.CommandRequest] = []
    live = kwargs.pop("live", None) or LiveSettings(
        IntervalSettings(heartbeat_interval_s=0.2), FeatureSettings()
    )
    client = StreamClient(
        server=ServerSettings(address=f"127.0.0.1:{port}", token=kwargs.pop("token", TOKEN)),
        tls=TlsSettings(enabled=False),
        store=store,
        settings=live,
        agent_version="9.9.9",
        host_info=lambda: agent_pb2.HostInfo(hostname="test-host"),
        on_command=commands.append,
        backoff=Backoff(base_s=0.05, cap_s=0.1),
        **kwargs,
    )
    store.on_added = client.wake
    return client, commands


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_handshake_delivery_acks_and_heartbeats(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path
) -> None:
    fake, port = fake_collector
    fake.initial_config = agent_pb2.AgentConfig(snapshot_interval_ms=2500)
    store = _store(tmp_path)
    for i in range(3):
        store.submit(_batch(i))
    client, commands = _client(port, store)
    task = asyncio.create_task(client.run())
    await wait_until(lambda: store.pending_count == 0)
    hs = fake.handshakes[0]
    assert fake.metadata[0]["authorization"] == f"Bearer {TOKEN}"
    assert hs.agent_version == "9.9.9" and hs.host.hostname == "test-host"
    assert hs.sequence_epoch == 555
    assert (hs.oldest_pending_sequence, hs.newest_pending_sequence) == (1, 3)
    assert hs.local_features.shell and not hs.local_features.files
    assert client.connected and client.vps_id == 7 and client.collector_id == "fake-1"
    assert client._settings.intervals.snapshot_interval_s == 2.5  # initial config applied
    assert fake.sequences() == [1, 2, 3]
    # Live data after the backlog, same sequence space.
    store.submit(_batch(9))
    await wait_until(lambda: fake.sequences() == [1, 2, 3, 4] and store.pending_count == 0)
    # Periodic heartbeats carry the counters; a HeartbeatRequest is answered at once.
    await wait_until(lambda: len(fake.of_kind("heartbeat")) >= 2)
    # Periodic heartbeats every 10 minutes from now: the next one can only be the answer,
    # however long a busy machine takes to send it.
    await fake.to_agent.put(
        agent_pb2.MessageToAgent(agent_config=agent_pb2.AgentConfig(heartbeat_interval_ms=600_000))
    )
    before = await settled(lambda: len(fake.of_kind("heartbeat")))
    await fake.to_agent.put(agent_pb2.MessageToAgent(heartbeat_request=agent_pb2.HeartbeatRequest()))
    await wait_until(lambda: len(fake.of_kind("heartbeat")) > before, timeout_s=30)
    assert fake.of_kind("heartbeat")[-1].heartbeat.pending_batches == 0
    # Later config and commands reach the agent.
    await fake.to_agent.put(
        agent_pb2.MessageToAgent(agent_config=agent_pb2.AgentConfig(docker_interval_ms=9000))
    )
    request = agent_pb2.CommandRequest(command_id="c1", ping=agent_pb2.PingCommand(host="example.com"))
    await fake.to_agent.put(agent_pb2.MessageToAgent(command_request=request))
    await wait_until(lambda: commands == [request])
    assert client._settings.intervals.docker_interval_s == 9.0
    await _stop(task)


async def test_unacked_batches_are_resent_oldest_first_after_reconnect(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path
) -> None:
    fake, port = fake_collector
    fake.outcome = lambda seq: None  # the database is down: no acks
    store = _store(tmp_path, memory=2)  # most of the backlog is on disk
    client, _ = _client(port, store, max_in_flight=3)
    for i in range(6):
        store.submit(_batch(i))
    task = asyncio.create_task(client.run())
    await wait_until(lambda: len(fake.batches) == 3)
    await asyncio.sleep(0.2)
    assert fake.sequences() == [1, 2, 3]  # the in-flight window holds the rest back
    assert store.pending_count == 6
    # The collector restarts: the stream ends; everything is resent, oldest first.
    fake.outcome = lambda seq: Outcome.OUTCOME_DUPLICATE if seq <= 3 else Outcome.OUTCOME_STORED
    fake.batches.clear()
    await fake.to_agent.put(None)
    await wait_until(lambda: store.pending_count == 0)
    assert fake.sequences() == [1, 2, 3, 4, 5, 6]
    assert len(fake.handshakes) == 2
    assert (fake.handshakes[1].oldest_pending_sequence, fake.handshakes[1].newest_pending_sequence) == (1, 6)
    await _stop(task)


async def test_rejected_batch_is_dropped_and_logged(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, port = fake_collector
    fake.outcome = lambda seq: Outcome.OUTCOME_REJECTED if seq == 2 else Outcome.OUTCOME_STORED
    store = _store(tmp_path)
    client, _ = _client(port, store)
    for i in range(3):
        store.submit(_batch(i))
    task = asyncio.create_task(client.run())
    await wait_until(lambda: store.pending_count == 0)
    assert "rejected batch 2 for good (status 3): snapshots[0].cpu_percent" in caplog.text
    # Counted as dropped, and apart, in the heartbeats from then on.
    assert client.rejected_total == 1
    heartbeat = client.heartbeat().heartbeat
    assert (heartbeat.rejected_batches_total, heartbeat.dropped_batches_total) == (1, 1)
    await fake.to_agent.put(None)  # reconnect: nothing is resent
    await wait_until(lambda: len(fake.handshakes) == 2)
    await asyncio.sleep(0.1)
    assert fake.sequences() == [1, 2, 3]
    await _stop(task)


async def test_clock_offset_is_measured_reported_and_probes_are_not_answered(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path
) -> None:
    fake, port = fake_collector
    fake.clock_ahead_ms = 600_000  # the agent is 10 minutes behind
    store = _store(tmp_path)
    live = LiveSettings(IntervalSettings(heartbeat_interval_s=30.0), FeatureSettings())
    client, _ = _client(port, store, live=live)
    assert not client.clock.estimate().known
    before_ms = time.time_ns() // 1_000_000
    task = asyncio.create_task(client.run())
    await wait_until(lambda: client.connected)
    assert before_ms <= fake.handshakes[0].agent_time_unix_ms <= time.time_ns() // 1_000_000
    # The first heartbeat is a probe; its answer is measured, not answered with another heartbeat.
    await wait_until(lambda: len(fake.of_kind("heartbeat")) >= 1)
    await asyncio.sleep(0.5)
    heartbeats = [m.heartbeat for m in fake.of_kind("heartbeat")]
    assert len(heartbeats) <= 2, "a probe answer must not start a heartbeat ping-pong"
    assert heartbeats[0].clock_probe_id > 0 and heartbeats[0].clock_offset_known
    estimate = client.clock.estimate()
    assert estimate.known and abs(estimate.offset_ms - 600_000) < 1000 and estimate.rtt_ms < 1000
    # Every heartbeat reports the estimate; a plain HeartbeatRequest is still answered.
    await fake.to_agent.put(agent_pb2.MessageToAgent(heartbeat_request=agent_pb2.HeartbeatRequest()))
    await wait_until(lambda: len(fake.of_kind("heartbeat")) > len(heartbeats))
    last = fake.of_kind("heartbeat")[-1].heartbeat
    assert last.clock_offset_known and abs(last.clock_offset_ms - 600_000) < 1000
    await _stop(task)


async def test_bad_token_is_reported_and_not_hammered(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, port = fake_collector
    client, _ = _client(port, _store(tmp_path), token="wrong", auth_backoff=Backoff(base_s=60, cap_s=900))
    task = asyncio.create_task(client.run())
    await wait_until(lambda: "refused this agent's token" in caplog.text)
    await asyncio.sleep(0.5)
    assert fake.attempts == 1  # waits minutes, not milliseconds
    assert "UNAUTHENTICATED" in caplog.text and "server.token" in caplog.text
    assert not client.connected
    await _stop(task)


async def test_silent_collector_times_out_the_handshake_and_is_retried(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, port = fake_collector
    fake.silent = True
    client, _ = _client(port, _store(tmp_path), handshake_timeout_s=0.2)
    task = asyncio.create_task(client.run())
    await wait_until(lambda: fake.attempts >= 2)
    assert "no handshake ack within 0.2 s" in caplog.text
    assert not client.connected
    await _stop(task)


async def test_client_waits_for_a_collector_that_is_not_there_yet(tmp_path: Path) -> None:
    fake = FakeCollector()
    server = grpc.aio.server()
    agent_pb2_grpc.add_AgentCommunicationServiceServicer_to_server(fake, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await server.stop(grace=None)  # nothing listens on `port` now
    store = _store(tmp_path)
    store.submit(_batch())
    client, _ = _client(port, store)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(0.5)
    assert not task.done() and not client.connected  # retrying, never exiting
    server = grpc.aio.server()
    agent_pb2_grpc.add_AgentCommunicationServiceServicer_to_server(fake, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        await wait_until(lambda: store.pending_count == 0, timeout_s=10)
    finally:
        await _stop(task)
        await server.stop(grace=None)


# -- the whole runtime -------------------------------------------------------------------


def _settings(tmp_path: Path, port: int) -> AgentSettings:
    return AgentSettings(
        server=ServerSettings(address=f"127.0.0.1:{port}", token=TOKEN),
        tls=TlsSettings(enabled=False),
        intervals=IntervalSettings(
            snapshot_interval_s=0.02,
            docker_interval_s=0.1,
            heartbeat_interval_s=0.5,
            batch_max_snapshots=5,
            batch_max_delay_s=0.5,
        ),
        spool=SpoolSettings(directory=tmp_path / "spool", max_bytes=1 << 20, memory_max_batches=4),
    )


def _runtime(tmp_path: Path, port: int, clock: itertools.count[int]) -> AgentRuntime:
    samplers = Samplers(
        snapshot=lambda: agent_pb2.PerformanceSnapshot(timestamp_unix_ms=next(clock)),
        docker=lambda: agent_pb2.DockerInfoBatch(timestamp_unix_ms=time.time_ns() // 1_000_000),
    )
    runtime = AgentRuntime(
        _settings(tmp_path, port),
        samplers=samplers,
        host_info=lambda: agent_pb2.HostInfo(hostname="rt"),
        agent_version="1.0",
        backoff=Backoff(base_s=0.05, cap_s=0.1),
        shutdown_flush_s=2.0,
    )
    return runtime


def _stamps(fake: FakeCollector) -> list[int]:
    return sorted(
        {
            s.timestamp_unix_ms
            for m in fake.batches
            if m.HasField("performance_batch")
            for s in m.performance_batch.snapshots
        }
    )


@pytest.mark.parametrize("bundles", [False, True], ids=["older-collector", "bundles-offered"])
async def test_runtime_has_no_gaps_across_an_outage_and_a_restart(
    fake_collector: tuple[FakeCollector, int], tmp_path: Path, caplog: pytest.LogCaptureFixture, bundles: bool
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    fake, port = fake_collector
    fake.offer_bundles = bundles
    clock = itertools.count(1)
    stop = asyncio.Event()
    runtime = _runtime(tmp_path, port, clock)
    run = asyncio.create_task(runtime.run(stop))
    await wait_until(lambda: len(fake.batches) >= 2)
    # Outage: the collector stops acking; sampling goes on into memory and the spool.
    fake.outcome = lambda seq: None
    await asyncio.sleep(0.6)
    assert runtime.store.pending_count >= 4
    assert runtime.store.spooled_bytes > 0
    # A shell command runs end to end meanwhile.
    request = agent_pb2.CommandRequest(command_id="sh1", shell=agent_pb2.ShellCommand(command_line="echo hi"))
    await fake.to_agent.put(agent_pb2.MessageToAgent(command_request=request))
    await wait_until(lambda: any(m.command_response.status == 3 for m in fake.of_kind("command_response")))
    output = b"".join(m.command_response.stdout for m in fake.of_kind("command_response"))
    assert output == b"hi\n"
    # Graceful stop while unacked: everything goes to the spool.
    stop.set()
    await asyncio.wait_for(run, 10)
    assert "kept in" in caplog.text
    pending_after_stop = runtime.store.pending_count
    assert pending_after_stop > 0
    # Restart with the collector healthy again: the backlog drains, the sequence continues.
    fake.outcome = lambda seq: Outcome.OUTCOME_STORED
    stop = asyncio.Event()
    again = _runtime(tmp_path, port, clock)
    assert again.sequences.epoch == runtime.sequences.epoch
    assert again.store.pending_count == pending_after_stop
    run = asyncio.create_task(again.run(stop))
    await wait_until(lambda: again.store.pending_count == 0 and len(fake.batches) > 10)
    stop.set()
    await asyncio.wait_for(run, 10)
    stamps = _stamps(fake)
    assert stamps == list(range(1, stamps[-1] + 1))  # not one snapshot missing
    sequences = sorted(set(fake.sequences()))
    assert sequences == list(range(1, sequences[-1] + 1))  # clean restarts leave no gap
    assert fake.handshakes[0].batch_bundling.supported  # the agent always announces bundles
    if not bundles:
        assert fake.bundle_sizes == []  # an older collector gets one batch per message
        return
    # Docker batches rode with performance batches, and the backlog went in full bundles.
    assert fake.bundle_sizes and max(fake.bundle_sizes) == 8, fake.bundle_sizes
    singles = len(fake.batches) - sum(fake.bundle_sizes)
    assert singles < sum(fake.bundle_sizes) / 2, (singles, fake.bundle_sizes)
