"""Simulated agents: real gRPC streams, hundreds per process as asyncio tasks.

Each agent authenticates with its own token, handshakes with its own sequence
epoch, samples at 1 Hz and sends batches the way ``agent.runtime`` does: a
``PerformanceSnapshotBatch`` when ``batch_snapshots`` are held (or the oldest
is ``batch_max_delay_s`` old) and a ``DockerInfoBatch`` per Docker sample. It
keeps every batch until its ack arrives; after a dropped stream it reconnects
with backoff and resends what is unacknowledged (the collector deduplicates).

With ``ProcessPlan.bundles`` it announces batch bundles, as the agent does, and
when the collector offers them it behaves as ``agent.runtime.bundling``: a Docker
batch waits for the agent's next performance batch (at most ``batch_max_delay_s``
here, as batches are cut every ``batch_snapshots`` seconds) and both travel in
one ``BatchBundle``; resends after a reconnect go in bundles too; acks arrive as
``BatchAcks``. Without it, or against a collector that makes no offer, every batch
is a message of its own.

Agents start at evenly spread phases, and their first batch is cut short at a
staggered size, so batches arrive smoothly instead of in a burst every 5 s.
One sampler and one heartbeat task per process drive all its agents, waking
every ``wake_every_s`` at most (``ProcessPlan``) and handling every agent then
due, so hundreds share a wake-up; each stream has a reader and a writer task.
Samples are stamped when handled, so this shifts their times, never their lag.

Lag is measured here: ack receipt time minus the batch's newest sample time
(the delay the pipeline adds after the agent sends), and minus the oldest
sample time (which also includes the agent's own batching hold). A Docker batch
that waited for a bundle counts its pipeline lag from when it was sent, and its
wait in the "oldest" figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import grpc

from bench.agent_messages import MessageTemplates, build_templates, heartbeat, varint
from bench.sim_protocol import KIND_DOCKER, KIND_PERFORMANCE, AgentSpec, AgentStats, ProcessPlan, Reports
from collector.server import SERVICE_NAME
from common.backoff import Backoff
from proto import agent_pb2
from tests.stream_client import handshake

__all__ = ["run_agent_process"]

METHOD = f"/{SERVICE_NAME}/EstablishCommunicationStream"
PROGRESS_INTERVAL_S = 5.0
HANDSHAKE_TIMEOUT_S = 120.0
HEARTBEAT = 0  # in an outbox: send a heartbeat (batch sequences start at 1)
_TAG_BATCH_BUNDLE = b"\x42"  # MessageToServer.batch_bundle = 8, length-delimited
# As agent.runtime.channel sets them; the local subchannel pool gives each
# channel its own TCP connection, as separate hosts would have.
CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 0),
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 30_000),
    ("grpc.use_local_subchannel_pool", 1),
]


@dataclass(slots=True)
class _Sent:
    data: bytes
    kind: int
    samples: int
    oldest_ms: int
    newest_ms: int
    timed: bool = True  # False for the partial batches cut at shutdown: their hold is not lag
    sent_ms: int = 0  # when it left the agent's hold, if later than newest_ms (a bundled Docker batch)


@dataclass(slots=True)
class _Agent:
    spec: AgentSpec
    epoch: int
    first_batch: int
    sequence: int = 0
    held: list[int] = field(default_factory=list)
    pending: dict[int, _Sent] = field(default_factory=dict)
    outbox: asyncio.Queue[int | tuple[int, ...]] = field(default_factory=asyncio.Queue)
    batches_sent: int = 0
    online: bool = False  # a stream is up: heartbeats go into its outbox
    bundle_max: int = 0  # batches per bundle the collector offered on this stream (0: none)
    parked: list[int] = field(default_factory=list)  # Docker batches waiting for the next bundle


async def _status_of(call: Any) -> str | None:
    """``CODE: details`` of a finished call, else None."""
    if not call.done():
        return None
    try:
        code = await call.code()
        details = await call.details()
    except Exception:
        return None
    return f"{code.name}: {(details or '')[:120]}"


class AgentProcess:
    """All simulated agents of one process."""

    def __init__(self, plan: ProcessPlan, templates: MessageTemplates, reports: Reports) -> None:
        self.plan = plan
        self.templates = templates
        self.reports = reports
        self.stats = AgentStats()
        self.agents = [
            _Agent(spec, plan.epoch_base + spec.index, 1 + spec.index % plan.batch_snapshots)
            for spec in plan.agents
        ]
        self.handshakes = {a.spec.index: self._handshake(a) for a in self.agents}
        self.channels = [
            grpc.aio.insecure_channel(plan.target, options=CHANNEL_OPTIONS)
            for _ in range(0, len(plan.agents), plan.agents_per_channel)
        ]
        self.calls = [
            channel.stream_stream(METHOD, response_deserializer=agent_pb2.MessageToAgent.FromString)
            for channel in self.channels
        ]
        self.connect_slots = asyncio.Semaphore(plan.connect_concurrency)
        self.first_connect: dict[int, asyncio.Event] = {a.spec.index: asyncio.Event() for a in self.agents}
        self.closing = asyncio.Event()
        self.pending_count = 0
        self.sampling_done = False
        self.all_acked = asyncio.Event()

    def _handshake(self, agent: _Agent) -> bytes:
        message = handshake(agent.epoch, f"bench-{agent.spec.index}")
        if self.plan.bundles:
            message.agent_handshake.batch_bundling.supported = True
        data: bytes = message.SerializeToString()
        return data

    # ---------------------------------------------------------------- streams

    async def run_agent(self, position: int, agent: _Agent) -> None:
        multicallable = self.calls[position // self.plan.agents_per_channel]
        metadata = (("authorization", f"Bearer {agent.spec.token}"),)
        backoff = Backoff(base_s=0.5, cap_s=5.0)  # full jitter, as real agents reconnect
        while not self.closing.is_set():
            call: Any = None
            tasks: list[asyncio.Task[Any]] = []
            try:
                async with self.connect_slots:
                    # Open the stream only with a slot in hand: a real agent sends its
                    # handshake at once, and a stream left waiting here would run out the
                    # collector's handshake deadline (a bench artefact, not a finding).
                    call = multicallable(metadata=metadata)
                    await call.write(self.handshakes[agent.spec.index])
                    first = await asyncio.wait_for(call.read(), HANDSHAKE_TIMEOUT_S)
                if first is grpc.aio.EOF or first.WhichOneof("payload") != "server_handshake_ack":
                    raise ConnectionError("stream ended before the handshake ack")
                offer = first.server_handshake_ack.batch_bundling
                agent.bundle_max = offer.max_batches if self.plan.bundles and offer.supported else 0
                agent.outbox = asyncio.Queue()
                agent.parked.clear()
                resend = sorted(agent.pending)
                if agent.bundle_max > 1:
                    for start in range(0, len(resend), agent.bundle_max):
                        agent.outbox.put_nowait(tuple(resend[start : start + agent.bundle_max]))
                else:
                    for sequence in resend:
                        agent.outbox.put_nowait(sequence)
                self.first_connect[agent.spec.index].set()
                backoff.reset()
                agent.online = True
                # Two tasks per stream; heartbeats come from one process-wide task
                # (``heartbeat_loop``), and ``close`` ends the streams by closing the channels.
                tasks = [
                    asyncio.create_task(self._read_acks(call, agent)),
                    asyncio.create_task(self._send(call, agent)),
                ]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if (error := task.exception()) is not None:
                        raise error
                if not self.closing.is_set():
                    raise ConnectionError("the collector closed the stream")
            except grpc.aio.AioRpcError as exc:
                self.stats.errors[f"{exc.code().name}: {(exc.details() or '')[:120]}"] += 1
            except Exception as exc:
                # A call the server ends before our first write raises InvalidStateError;
                # whatever it is, an agent reconnects rather than dies.
                status = None if call is None else await _status_of(call)
                self.stats.errors[status or f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            finally:
                agent.online = False
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                if call is not None:
                    call.cancel()
            if self.closing.is_set():
                return
            self.stats.reconnects += 1
            await asyncio.sleep(backoff.next_delay())

    async def _send(self, call: Any, agent: _Agent) -> None:
        queue = agent.outbox
        while True:
            sequence = await queue.get()
            if isinstance(sequence, tuple):
                # A bundle's body is its batches' MessageToServer bytes, one after another.
                body = b"".join(sent.data for s in sequence if (sent := agent.pending.get(s)) is not None)
                if body:
                    await call.write(_TAG_BATCH_BUNDLE + varint(len(body)) + body)
            elif sequence == HEARTBEAT:
                await call.write(heartbeat(int(time.time() * 1000)))
            elif (sent := agent.pending.get(sequence)) is not None:
                await call.write(sent.data)

    async def heartbeat_loop(self) -> None:
        """As agent.runtime.session, every interval per agent (more when the collector asks).

        One task wakes for all agents due at once, instead of a sleeping task per stream;
        each agent keeps its own phase, so heartbeats stay spread over the interval.
        """
        interval = self.plan.heartbeat_interval_s
        started = time.monotonic()
        due = [
            (started + interval * agent.spec.index / self.plan.fleet_size, position)
            for position, agent in enumerate(self.agents)
        ]
        heapq.heapify(due)
        while due:
            now = time.monotonic()
            if due[0][0] > now:
                await asyncio.sleep(max(due[0][0] - now, self.plan.wake_every_s))
                continue
            while due and due[0][0] <= now:
                at, position = due[0]
                agent = self.agents[position]
                if agent.online:
                    agent.outbox.put_nowait(HEARTBEAT)
                heapq.heapreplace(due, (at + interval, position))

    async def _read_acks(self, call: Any, agent: _Agent) -> None:
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("payload")
            if kind == "heartbeat_request":
                agent.outbox.put_nowait(HEARTBEAT)
            elif kind == "batch_ack":
                self._on_ack(agent, message.batch_ack)
            elif kind == "batch_acks":
                for ack in message.batch_acks.acks:
                    self._on_ack(agent, ack)

    def _on_ack(self, agent: _Agent, ack: agent_pb2.BatchAck) -> None:
        stats = self.stats
        sent = agent.pending.pop(ack.sequence, None)
        if sent is None:
            return  # an ack for a resend that was already acknowledged
        self.pending_count -= 1
        self.check_all_acked()
        if ack.outcome == agent_pb2.BatchAck.OUTCOME_REJECTED:
            stats.rejected += 1
            stats.rejected_samples += sent.samples
            stats.errors[f"rejected: {ack.detail[:120]}"] += 1
            return
        if ack.outcome == agent_pb2.BatchAck.OUTCOME_DUPLICATE:
            stats.duplicate += 1
        else:
            stats.stored += 1
        if sent.kind == KIND_PERFORMANCE:
            stats.snapshots_acked += sent.samples
        else:
            stats.docker_acked += sent.samples
        if not sent.timed:
            return
        now = time.time()
        stats.sample_time.append(sent.newest_ms / 1000)
        stats.lag_newest.append(now - max(sent.newest_ms, sent.sent_ms) / 1000)
        stats.lag_oldest.append(now - sent.oldest_ms / 1000)
        stats.kind.append(sent.kind)

    # ---------------------------------------------------------------- sampling

    def _submit(self, agent: _Agent, sent: _Sent, *, park: bool = False) -> None:
        agent.sequence += 1
        agent.pending[agent.sequence] = sent
        self.pending_count += 1
        if park and agent.bundle_max > 1 and agent.online:
            agent.parked.append(agent.sequence)  # sent with the next performance batch
        elif agent.parked:
            self._release(agent, agent.sequence, now_ms=int(time.time() * 1000))
        else:
            agent.outbox.put_nowait(agent.sequence)

    def _release(self, agent: _Agent, sequence: int, now_ms: int) -> None:
        parked, agent.parked = agent.parked, []
        for parked_sequence in parked:
            if (sent := agent.pending.get(parked_sequence)) is not None:
                sent.sent_ms = now_ms
        bundle = (*parked, sequence)
        for start in range(0, len(bundle), agent.bundle_max):
            agent.outbox.put_nowait(bundle[start : start + agent.bundle_max])

    def _cut_batch(self, agent: _Agent, timed: bool = True) -> None:
        held, agent.held = agent.held, []
        data = self.templates.performance(agent.sequence + 1, held, variant=agent.spec.index)
        self._submit(agent, _Sent(data, KIND_PERFORMANCE, len(held), held[0], held[-1], timed))
        agent.batches_sent += 1

    def _snapshot(self, agent: _Agent, now_ms: int) -> None:
        agent.held.append(now_ms)
        self.stats.snapshots_generated += 1
        target = agent.first_batch if agent.batches_sent == 0 else self.plan.batch_snapshots
        if len(agent.held) >= target or now_ms - agent.held[0] >= self.plan.batch_max_delay_s * 1000:
            self._cut_batch(agent)

    def _docker(self, agent: _Agent, now_ms: int) -> None:
        self.stats.docker_generated += 1
        data = self.templates.docker(agent.sequence + 1, now_ms)
        # Batches are cut every batch_snapshots samples, so the wait is within batch_max_delay_s.
        self._submit(agent, _Sent(data, KIND_DOCKER, 1, now_ms, now_ms), park=True)

    async def sample(self, start_at: float, stop_at: float) -> None:
        """Generate samples for every agent from ``start_at`` until ``stop_at`` (wall clock)."""
        plan = self.plan
        intervals = (plan.snapshot_interval_s, plan.docker_interval_s)
        heap: list[tuple[float, int, int]] = []
        for position, agent in enumerate(self.agents):
            phase = agent.spec.index / plan.fleet_size
            heap.append((start_at + phase * plan.snapshot_interval_s, KIND_PERFORMANCE, position))
            docker_phase = (agent.spec.index % 5 + phase) / 5 * plan.docker_interval_s
            heap.append((start_at + docker_phase, KIND_DOCKER, position))
        heapq.heapify(heap)
        while heap and heap[0][0] < stop_at:
            now = time.time()
            due = heap[0][0]
            if due > now:
                await asyncio.sleep(max(due - now, plan.wake_every_s))
                continue
            now_ms = int(now * 1000)
            self.stats.max_tick_late_s = max(self.stats.max_tick_late_s, now - due)
            while heap and heap[0][0] <= now and heap[0][0] < stop_at:
                due, kind, position = heapq.heappop(heap)
                agent = self.agents[position]
                if kind == KIND_PERFORMANCE:
                    self._snapshot(agent, now_ms)
                else:
                    self._docker(agent, now_ms)
                heapq.heappush(heap, (due + intervals[kind], kind, position))
        for agent in self.agents:
            for sequence in agent.parked:
                # Released by the whole fleet's stop at one instant (a burst no real fleet makes),
                # like the partial batches cut then: not counted as lag.
                if (sent := agent.pending.get(sequence)) is not None:
                    sent.timed = False
            if agent.held:
                self._cut_batch(agent, timed=False)  # as an agent flushes what it holds on a clean stop
            elif agent.parked:  # no performance batch to ride with: they go alone, now
                parked, agent.parked = agent.parked, []
                for sequence in parked:
                    if (sent := agent.pending.get(sequence)) is not None:
                        sent.sent_ms = int(time.time() * 1000)
                    agent.outbox.put_nowait(sequence)

    def check_all_acked(self) -> None:
        if self.sampling_done and self.pending_count == 0:
            self.all_acked.set()

    async def report_progress_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.reports.put(
                ("progress", self.plan.process_index, self.stats.progress(self.pending_count, time.time()))
            )

    def final_report(self, drain_s: float) -> dict[str, Any]:
        unacked: Counter[int] = Counter()
        for agent in self.agents:
            for sent in agent.pending.values():
                unacked[sent.kind] += sent.samples
        return self.stats.final(dict(unacked), self.pending_count, drain_s)

    async def close(self) -> None:
        self.closing.set()
        await asyncio.gather(*(channel.close(grace=None) for channel in self.channels))


async def _main(plan: ProcessPlan, control: Connection, reports: Reports) -> None:
    loop = asyncio.get_running_loop()
    templates = build_templates(plan.shape, int(time.time() * 1000))
    fleet = AgentProcess(plan, templates, reports)
    started = time.perf_counter()
    runners = [
        asyncio.create_task(fleet.run_agent(position, agent)) for position, agent in enumerate(fleet.agents)
    ]
    runners.append(asyncio.create_task(fleet.heartbeat_loop()))
    connected = [event.wait() for event in fleet.first_connect.values()]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*connected), HANDSHAKE_TIMEOUT_S * 2)
    ok = sum(event.is_set() for event in fleet.first_connect.values())
    reports.put(
        ("connected", plan.process_index, ok, time.perf_counter() - started, dict(fleet.stats.errors))
    )
    start_at, stop_at = await loop.run_in_executor(None, control.recv)
    if start_at > 0:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        progress = asyncio.create_task(fleet.report_progress_every(PROGRESS_INTERVAL_S))
        await fleet.sample(start_at, stop_at)
        drain_started = time.perf_counter()
        fleet.sampling_done = True
        fleet.check_all_acked()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.all_acked.wait(), plan.drain_timeout_s)
        drain_s = time.perf_counter() - drain_started
        progress.cancel()
        reports.put(("final", plan.process_index, fleet.final_report(drain_s)))
    await fleet.close()
    for runner in runners:
        runner.cancel()
    await asyncio.gather(*runners, return_exceptions=True)


def run_agent_process(plan: ProcessPlan, control: Connection, reports: Reports) -> None:
    """Entry point of one generator process (``multiprocessing`` target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench process handles Ctrl-C and ends us
    asyncio.run(_main(plan, control, reports))
