"""One established stream: the writer, the reader and the heartbeat, until one stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

from agent.runtime.bundling import BundlePlanner, build_bundle
from agent.runtime.clock import ClockEstimator
from agent.runtime.live import LiveSettings
from agent.runtime.pending import PendingStore
from proto import agent_pb2

__all__ = ["Session", "SessionEnded"]

log = logging.getLogger(__name__)

_Outcome = agent_pb2.BatchAck.Outcome


class SessionEnded(Exception):
    """The stream ended or broke the protocol; ``code`` is the call's status, when it had one."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


class Session:
    """Runs one stream after its handshake.

    Pending batches are sent oldest first from sequence 0, so everything left over
    from earlier streams is resent before live data. At most ``max_in_flight``
    batches are unacknowledged at once: when the collector stops acknowledging
    (its database is slow), the agent stops sending and keeps sampling into the
    pending store. With a ``bundles`` planner (the collector offered bundling),
    the batches of one send travel in one BatchBundle.
    """

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall,
        *,
        store: PendingStore,
        settings: LiveSettings,
        control: deque[agent_pb2.MessageToServer],
        wakeup: asyncio.Event,
        max_in_flight: int,
        heartbeat: Callable[[], agent_pb2.MessageToServer],
        on_command: Callable[[agent_pb2.CommandRequest], None],
        on_pty: Callable[[agent_pb2.PtyDataToAgent], None] | None,
        clock: ClockEstimator | None = None,
        on_rejected: Callable[[], None] | None = None,
        bundles: BundlePlanner | None = None,
    ) -> None:
        self._call = call
        self._store = store
        self._settings = settings
        self._control = control
        self._wakeup = wakeup
        self._max_in_flight = max_in_flight
        self._heartbeat = heartbeat
        self._on_command = on_command
        self._on_pty = on_pty
        self._clock = clock or ClockEstimator()
        self._on_rejected = on_rejected
        self._bundles = bundles
        self._cursor = 0
        self._in_flight: set[int] = set()
        self._hold_s: float | None = None  # set when the planner holds batches back

    async def run(self) -> None:
        """Until the stream ends (raises :class:`SessionEnded` or the gRPC error)."""
        coroutines: list[Coroutine[Any, Any, None]] = [
            self._write_loop(),
            self._read_loop(),
            self._heartbeat_loop(),
        ]
        tasks = [asyncio.create_task(c) for c in coroutines]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for task in done:
            task.result()  # re-raise the reason the stream ended
        raise SessionEnded("stream ended")

    def _next_message(self) -> agent_pb2.MessageToServer | None:
        if self._control:
            return self._control.popleft()
        if len(self._in_flight) >= self._max_in_flight:
            return None
        if self._bundles is not None:
            return self._next_bundle(self._bundles)
        found = self._store.next_after(self._cursor)
        if found is None:
            return None
        self._cursor, message = found
        self._in_flight.add(self._cursor)
        return message

    def _next_bundle(self, planner: BundlePlanner) -> agent_pb2.MessageToServer | None:
        picked, self._hold_s = planner.take(self._cursor, self._max_in_flight - len(self._in_flight))
        if not picked:
            return None
        self._cursor = picked[-1][0]
        self._in_flight.update(sequence for sequence, _ in picked)
        return build_bundle([message for _, message in picked])

    async def _write_loop(self) -> None:
        while True:
            # Cleared before looking, so anything queued after the look wakes us.
            self._wakeup.clear()
            message = self._next_message()
            if message is None:
                if self._hold_s is None:
                    await self._wakeup.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self._hold_s)
                continue
            if message.WhichOneof("payload") == "heartbeat" and message.heartbeat.clock_probe_id:
                self._clock.probe_sent(message.heartbeat.clock_probe_id)
            try:
                await self._call.write(message)
            except asyncio.InvalidStateError:
                raise await self._ended() from None

    async def _heartbeat_loop(self) -> None:
        while True:
            self._control.append(self._heartbeat())
            self._wakeup.set()
            await self._settings.wait_changed(self._settings.intervals.heartbeat_interval_s)

    async def _read_loop(self) -> None:
        while True:
            message = await self._call.read()
            if message is grpc.aio.EOF:
                raise await self._ended()
            self._dispatch(message)

    async def _ended(self) -> SessionEnded:
        code = await self._call.code()
        details = await self._call.details()
        return SessionEnded(f"collector ended the stream ({code.name}: {details or 'no details'})", code)

    def _dispatch(self, message: agent_pb2.MessageToAgent) -> None:
        kind = message.WhichOneof("payload")
        if kind == "batch_ack":
            self._on_ack(message.batch_ack)
        elif kind == "batch_acks":
            for ack in message.batch_acks.acks:
                self._on_ack(ack)
        elif kind == "heartbeat_request":
            request = message.heartbeat_request
            if request.probe_id:
                # The answer to our clock probe: a measurement, not a request.
                self._clock.probe_answered(
                    request.probe_id,
                    server_received_ms=request.probe_received_unix_ms,
                    server_sent_ms=request.server_time_unix_ms,
                )
            else:
                self._control.appendleft(self._heartbeat())
                self._wakeup.set()
        elif kind == "agent_config":
            self._settings.apply(message.agent_config)
        elif kind == "command_request":
            self._on_command(message.command_request)
        elif kind == "pty_data":
            if self._on_pty is not None:
                self._on_pty(message.pty_data)
        elif kind == "server_handshake_ack":
            log.warning("ignoring a second ServerHandshakeAck")
        else:
            log.warning("ignoring unknown message from collector: %s", kind)

    def _on_ack(self, ack: agent_pb2.BatchAck) -> None:
        sequence = int(ack.sequence)
        self._in_flight.discard(sequence)
        self._wakeup.set()
        if ack.outcome in (_Outcome.OUTCOME_STORED, _Outcome.OUTCOME_DUPLICATE):
            self._store.ack(sequence)
        elif ack.outcome == _Outcome.OUTCOME_REJECTED:
            self._store.ack(sequence)
            if self._on_rejected is not None:
                self._on_rejected()
            log.error(
                "collector rejected batch %d for good (status %d): %s; dropped, not resent",
                sequence,
                ack.status_code,
                ack.detail,
            )
        else:
            # Unknown outcome: keep the batch; it is resent on the next stream.
            log.warning("batch %d acked with unknown outcome %d; keeping it", sequence, ack.outcome)
