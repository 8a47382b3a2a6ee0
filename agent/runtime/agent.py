"""The running agent: sampling, delivery and commands wired together, with graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import grpc

from agent.commands.docker_actions import DockerCommands
from agent.commands.executor import CommandExecutor
from agent.config import AgentSettings
from agent.pty import PtyManager
from agent.runtime.client import StreamClient
from agent.runtime.clock import ClockEstimate
from agent.runtime.live import LiveSettings
from agent.runtime.pending import BATCH_FIELDS, PendingStore
from agent.runtime.sampling import Samplers, SamplingLoops
from agent.runtime.sequence import SequenceAllocator
from agent.runtime.spool_log import SegmentLog
from common.backoff import Backoff
from proto import agent_pb2

__all__ = ["AgentRuntime", "stamp_clock"]

log = logging.getLogger(__name__)


def stamp_clock(message: agent_pb2.MessageToServer, estimate: ClockEstimate) -> None:
    """Record in a new batch the clock offset believed now, when its samples were taken.

    The stamp travels with the batch (and through the spool), so a batch sent
    after an outage is corrected with the offset of its own time.
    """
    kind = message.WhichOneof("payload")
    if kind not in BATCH_FIELDS:
        raise ValueError(f"not a batch message: {kind}")
    batch = getattr(message, kind)
    batch.clock_offset_ms = estimate.offset_ms
    batch.clock_offset_known = estimate.known


class AgentRuntime:
    """Everything the agent does in normal mode.

    Samplers and the channel are injected, so tests can run the whole runtime
    with fakes against an in-process collector.
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        samplers: Samplers,
        host_info: Callable[[], agent_pb2.HostInfo],
        agent_version: str,
        docker_commands: DockerCommands | None = None,
        channel_factory: Callable[[], grpc.aio.Channel] | None = None,
        backoff: Backoff | None = None,
        shutdown_flush_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self._shutdown_flush_s = shutdown_flush_s
        spool_dir = settings.spool.directory
        spool = SegmentLog(  # creates the directory
            spool_dir,
            max_bytes=settings.spool.max_bytes,
            commit_interval_s=settings.spool.commit_interval_ms / 1000,
        )
        self.sequences = SequenceAllocator(spool_dir)
        self.store = PendingStore(
            spool,
            self.sequences,
            memory_max_batches=settings.spool.memory_max_batches,
        )
        self.live = LiveSettings(settings.intervals, settings.features)
        self.executor = CommandExecutor(
            settings=settings.commands,
            features=lambda: self.live.features,
            emit=self._emit_command_response,
            docker=docker_commands or DockerCommands(base_url=settings.docker_base_url),
        )
        self.pty = PtyManager(
            features=lambda: self.live.features,
            emit=lambda data: self.client.send_control(agent_pb2.MessageToServer(pty_data=data)),
        )
        self.client = StreamClient(
            server=settings.server,
            tls=settings.tls,
            store=self.store,
            settings=self.live,
            agent_version=agent_version,
            host_info=host_info,
            on_command=self.executor.submit,
            on_pty=self.pty.handle,
            on_disconnect=self.pty.close_all,
            backoff=backoff,
            channel_factory=channel_factory,
        )
        self.store.on_added = self.client.wake
        self.sampling = SamplingLoops(samplers, self.live, self._submit, on_snapshot=self.store.hold_snapshot)
        self.client.docker_sample_overruns = lambda: self.sampling.docker_overruns.total
        self.client.next_batch_due = self.sampling.next_batch_due

    def _submit(self, message: agent_pb2.MessageToServer) -> int:
        stamp_clock(message, self.client.clock.estimate())
        return self.store.submit(message)

    def _emit_command_response(self, response: agent_pb2.CommandResponse) -> None:
        self.client.send_control(agent_pb2.MessageToServer(command_response=response))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down gracefully.

        Raises RuntimeError if a part of the agent died on its own, so the
        service manager restarts it.
        """
        log.info(
            "agent starting: collector %s (tls %s), epoch %d, next sequence %d, %d batches pending",
            self.settings.server.address,
            "on" if self.settings.tls.enabled else "OFF",
            self.sequences.epoch,
            self.sequences.next_sequence,
            self.store.pending_count,
        )
        sampling = asyncio.create_task(self.sampling.run(), name="sampling")
        client = asyncio.create_task(self.client.run(), name="stream-client")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        done, _ = await asyncio.wait({sampling, client, stopper}, return_when=asyncio.FIRST_COMPLETED)
        crashed = [t for t in done if t is not stopper]
        for task in crashed:
            log.critical("agent part %s stopped unexpectedly", task.get_name(), exc_info=task.exception())
        stopper.cancel()
        await self._shutdown(sampling, client)
        if crashed:
            raise RuntimeError(f"{crashed[0].get_name()} stopped unexpectedly")

    async def _shutdown(self, sampling: asyncio.Task[None], client: asyncio.Task[None]) -> None:
        log.info("stopping: no more sampling; flushing pending batches")
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sampling
        self.sampling.flush()
        await self.executor.shutdown()
        await self.pty.shutdown()
        if self.client.connected:
            acked = await self.client.drain(self._shutdown_flush_s)
            log.info("flush %s", "complete" if acked else "incomplete; the rest stays spooled")
        client.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await client
        self.store.close()
        self.sequences.close()
        log.info(
            "agent stopped after taking %d snapshots and %d Docker samples; "
            "%d batches (%d bytes) kept in %s for the next start",
            self.sampling.snapshots_taken,
            self.sampling.docker_samples_taken,
            self.store.pending_count,
            self.store.spooled_bytes,
            self.settings.spool.directory,
        )
