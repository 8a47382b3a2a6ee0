"""Ping: the system ``ping`` against a validated host name or address."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial

from agent.commands.process import run_process
from agent.commands.stream import CommandRejected, Job, Outcome, ResponseStream, Status
from common.addresses import is_valid_host
from proto import agent_pb2

__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "prepare_ping"]

DEFAULT_COUNT = 4
MAX_COUNT = 100


async def _missing(stream: ResponseStream, timeout_s: float) -> Outcome:
    return Outcome(
        Status.COMMAND_STATUS_FAILED,
        exit_code=127,
        error_message="ping is not installed on this agent (install iputils-ping)",
    )


def prepare_ping(command: agent_pb2.PingCommand, *, which: Callable[[str], str | None] = shutil.which) -> Job:
    """Validate a PingCommand and return the job that runs it."""
    host = command.host
    # Only a bare host name or IP: nothing that a shell or ping could read as an option.
    if not is_valid_host(host):
        raise CommandRejected(f"ping host {host!r} is not a valid host name or IP address")
    count = command.count or DEFAULT_COUNT
    if not 1 <= count <= MAX_COUNT:
        raise CommandRejected(f"ping count must be between 1 and {MAX_COUNT}, got {count}")
    binary = which("ping")
    if binary is None:
        return _missing
    return partial(run_process, [binary, "-c", str(count), host])
