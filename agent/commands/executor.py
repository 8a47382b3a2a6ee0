"""Dispatches CommandRequests: validation, feature switches, concurrency and cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.commands.docker_actions import DockerCommands
from agent.commands.ping import prepare_ping
from agent.commands.script import prepare_script
from agent.commands.shell import prepare_shell
from agent.commands.stream import CommandRejected, Emit, Job, Outcome, ResponseStream, Status
from agent.config import CommandSettings, FeatureSettings
from proto import agent_pb2

__all__ = ["CommandExecutor"]

log = logging.getLogger(__name__)

# The local switches each command kind needs. Ping has none: it only ever runs
# the system ping against a validated host.
REQUIRED_FEATURES: dict[str, tuple[str, ...]] = {
    "shell": ("shell",),
    "script": ("script",),
    "ping": (),
    "docker_action": ("docker", "docker_control"),
    "docker_logs": ("docker",),
}


@dataclass
class _Running:
    task: asyncio.Task[None]
    stream: ResponseStream
    cancelled_by: str = ""


class CommandExecutor:
    """Runs each accepted command as its own task, at most ``max_concurrent`` at a time.

    Every command gets ACCEPTED, RUNNING (with output chunks), then exactly one
    final status. Bad requests are REJECTED with a reason; nothing a request
    contains can stop the executor.
    """

    def __init__(
        self,
        *,
        settings: CommandSettings,
        features: Callable[[], FeatureSettings],
        emit: Emit,
        docker: DockerCommands | None = None,
        max_queued: int = 64,
    ) -> None:
        self._settings = settings
        self._features = features
        self._emit = emit
        self._docker = docker or DockerCommands()
        self._max_queued = max_queued
        self._slots = asyncio.Semaphore(settings.max_concurrent)
        self._running: dict[str, _Running] = {}

    @property
    def running_ids(self) -> list[str]:
        """Ids of commands accepted and not yet finished."""
        return list(self._running)

    def _limits(self, request: agent_pb2.CommandRequest) -> tuple[float, int]:
        s = self._settings
        timeout_s = request.timeout_ms / 1000.0 if request.timeout_ms else s.default_timeout_s
        limit = request.output_limit_bytes or s.default_output_limit_bytes
        return min(timeout_s, s.max_timeout_s), min(limit, s.max_output_limit_bytes)

    def _prepare(self, kind: str, request: agent_pb2.CommandRequest) -> Job:
        features = self._features()
        for feature in REQUIRED_FEATURES[kind]:
            if not getattr(features, feature):
                raise CommandRejected(f"disabled on this agent: {feature}")
        if kind == "shell":
            return prepare_shell(request.shell)
        if kind == "script":
            return prepare_script(request.script)
        if kind == "ping":
            return prepare_ping(request.ping)
        if kind == "docker_action":
            return self._docker.prepare_action(request.docker_action)
        return self._docker.prepare_logs(request.docker_logs)

    def submit(self, request: agent_pb2.CommandRequest) -> None:
        """Accept or reject ``request`` now; accepted commands run in the background."""
        command_id = request.command_id
        kind = request.WhichOneof("kind")
        timeout_s, output_limit = self._limits(request)
        stream = ResponseStream(command_id, self._emit, output_limit_bytes=output_limit)
        try:
            if not command_id:
                raise CommandRejected("malformed command: command_id is empty")
            if kind is None:
                raise CommandRejected("malformed or unknown command: no known kind is set")
            if kind == "cancel":
                self._cancel(request.cancel.target_command_id, stream, by=command_id)
                return
            if command_id in self._running:
                raise CommandRejected(f"command {command_id} is already running")
            if len(self._running) >= self._settings.max_concurrent + self._max_queued:
                raise CommandRejected("too many commands running or queued on this agent")
            job = self._prepare(kind, request)
        except CommandRejected as exc:
            log.warning("rejected command %s (%s): %s", command_id or "?", kind, exc)
            stream.finish(Outcome(Status.COMMAND_STATUS_REJECTED, error_message=str(exc)))
            return
        log.info("accepted command %s (%s, timeout %.0f s)", command_id, kind, timeout_s)
        stream.status(Status.COMMAND_STATUS_ACCEPTED)
        task = asyncio.create_task(self._run(job, stream, timeout_s), name=f"command-{command_id}")
        self._running[command_id] = _Running(task, stream)
        task.add_done_callback(lambda _: self._finished(stream))

    def _finished(self, stream: ResponseStream) -> None:
        self._running.pop(stream.command_id, None)
        # A task cancelled before its first step never ran its own handler.
        stream.finish(Outcome(Status.COMMAND_STATUS_CANCELLED, error_message="cancelled"))

    async def _run(self, job: Job, stream: ResponseStream, timeout_s: float) -> None:
        try:
            async with self._slots:
                stream.status(Status.COMMAND_STATUS_RUNNING)
                outcome = await job(stream, timeout_s)
        except asyncio.CancelledError:
            running = self._running.get(stream.command_id)
            by = running.cancelled_by if running else ""
            outcome = Outcome(
                Status.COMMAND_STATUS_CANCELLED,
                error_message=f"cancelled by {by}" if by else "cancelled: the agent is stopping",
            )
        except Exception as exc:
            log.exception("command %s failed inside the agent", stream.command_id)
            outcome = Outcome(Status.COMMAND_STATUS_FAILED, error_message=f"agent error: {exc}")
        log.info(
            "command %s finished: %s exit %d",
            stream.command_id,
            Status.Name(outcome.status),
            outcome.exit_code,
        )
        stream.finish(outcome)

    def _cancel(self, target_id: str, stream: ResponseStream, *, by: str) -> None:
        target = self._running.get(target_id)
        if target is None:
            stream.finish(
                Outcome(
                    Status.COMMAND_STATUS_FAILED,
                    error_message=f"no running command with id {target_id!r}",
                )
            )
            return
        log.info("command %s cancels %s", by, target_id)
        target.cancelled_by = f"command {by}"
        target.task.cancel()
        stream.finish(Outcome(Status.COMMAND_STATUS_SUCCEEDED))

    async def shutdown(self) -> None:
        """Cancel every running command and wait for their final statuses."""
        tasks = [r.task for r in self._running.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
