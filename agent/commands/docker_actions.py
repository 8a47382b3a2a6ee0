"""Docker container start/stop/restart and log tails, through the Docker SDK."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from agent.commands.stream import CommandRejected, Job, Outcome, ResponseStream, Status
from proto import agent_pb2

__all__ = ["DEFAULT_TAIL_LINES", "MAX_TAIL_LINES", "DockerCommands"]

DEFAULT_TAIL_LINES = 100
MAX_TAIL_LINES = 10_000
STOP_TIMEOUT_S = 10
# Container ids and names: nothing else reaches the engine's URL paths.
_CONTAINER_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")

_Action = agent_pb2.DockerContainerAction.Action
_VERBS = {
    _Action.ACTION_START: "start",
    _Action.ACTION_STOP: "stop",
    _Action.ACTION_RESTART: "restart",
    _Action.ACTION_KILL: "kill",
    _Action.ACTION_PAUSE: "pause",
    _Action.ACTION_UNPAUSE: "unpause",
}
MAX_STOP_TIMEOUT_S = 600


def _default_client_factory(base_url: str | None) -> Callable[[], Any]:
    def make() -> Any:
        import docker  # deferred: the SDK is slow to import and unused when Docker is off

        if base_url:
            return docker.DockerClient(base_url=base_url)
        return docker.from_env()

    return make


def _container_ref(container_id: str) -> str:
    if not _CONTAINER_REF.match(container_id):
        raise CommandRejected(f"container_id {container_id!r} is not a container id or name")
    return container_id


def _failure(exc: Exception) -> Outcome:
    """Translate a Docker SDK error into a FAILED outcome with a readable message."""
    import docker.errors

    if isinstance(exc, docker.errors.NotFound):
        message = f"no such container: {exc.explanation or exc}"
    elif isinstance(exc, docker.errors.APIError):
        message = f"docker engine refused: {exc.explanation or exc}"
    else:
        message = f"docker unavailable: {exc}"
    return Outcome(Status.COMMAND_STATUS_FAILED, exit_code=1, error_message=message)


class DockerCommands:
    """Prepares Docker jobs; each opens its own SDK client in a worker thread."""

    def __init__(
        self, *, base_url: str | None = None, client_factory: Callable[[], Any] | None = None
    ) -> None:
        self._client_factory = client_factory or _default_client_factory(base_url)

    async def _in_thread(
        self, work: Callable[[Any], bytes], stream: ResponseStream, timeout_s: float
    ) -> Outcome:
        def call() -> bytes:
            client = self._client_factory()
            try:
                return work(client)
            finally:
                client.close()

        try:
            output = await asyncio.wait_for(asyncio.to_thread(call), timeout_s)
        except TimeoutError:
            return Outcome(
                Status.COMMAND_STATUS_TIMED_OUT,
                error_message=f"docker did not answer within {timeout_s:g} s",
            )
        except Exception as exc:
            return _failure(exc)
        stream.add(stdout=output)
        return Outcome(Status.COMMAND_STATUS_SUCCEEDED)

    def prepare_action(self, command: agent_pb2.DockerContainerAction) -> Job:
        """Validate a container action and return the job that performs it."""
        ref = _container_ref(command.container_id)
        verb = _VERBS.get(command.action)
        if verb is None:
            raise CommandRejected(f"unknown docker action {command.action}")
        stop_timeout = command.stop_timeout_s or STOP_TIMEOUT_S
        if stop_timeout > MAX_STOP_TIMEOUT_S:
            raise CommandRejected(f"stop_timeout_s must be at most {MAX_STOP_TIMEOUT_S}, got {stop_timeout}")

        def work(client: Any) -> bytes:
            container = client.containers.get(ref)
            if verb == "stop":
                container.stop(timeout=stop_timeout)
            elif verb == "restart":
                container.restart(timeout=stop_timeout)
            else:
                getattr(container, verb)()  # start, kill, pause, unpause take no arguments
            container.reload()
            return f"{container.name}: {verb} done, state {container.status}\n".encode()

        async def run(stream: ResponseStream, timeout_s: float) -> Outcome:
            return await self._in_thread(work, stream, timeout_s)

        return run

    def prepare_logs(self, command: agent_pb2.DockerLogsRequest) -> Job:
        """Validate a logs request and return the job that fetches the tail."""
        ref = _container_ref(command.container_id)
        tail = command.tail_lines or DEFAULT_TAIL_LINES
        if tail > MAX_TAIL_LINES:
            raise CommandRejected(f"tail_lines must be at most {MAX_TAIL_LINES}, got {tail}")

        options: dict[str, Any] = {"stdout": True, "stderr": True, "tail": tail}
        if command.since_unix_ms > 0:
            options["since"] = command.since_unix_ms / 1000.0
        if command.timestamps:
            options["timestamps"] = True

        def work(client: Any) -> bytes:
            logs: bytes = client.containers.get(ref).logs(**options)
            return logs

        async def run(stream: ResponseStream, timeout_s: float) -> Outcome:
            return await self._in_thread(work, stream, timeout_s)

        return run
