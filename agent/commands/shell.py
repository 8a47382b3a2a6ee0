"""Shell commands: ``/bin/sh -c <command_line>``."""

from __future__ import annotations

import os
import re
from functools import partial

from agent.commands.process import run_process
from agent.commands.stream import CommandRejected, Job
from proto import agent_pb2

__all__ = ["SHELL", "prepare_shell"]

SHELL = "/bin/sh"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def prepare_shell(command: agent_pb2.ShellCommand) -> Job:
    """Validate a ShellCommand and return the job that runs it."""
    if not command.command_line.strip():
        raise CommandRejected("malformed shell command: command_line is empty")
    cwd = command.working_directory or "/"
    if not os.path.isabs(cwd) or not os.path.isdir(cwd):
        raise CommandRejected(f"working_directory {cwd!r} is not an existing absolute directory")
    for name in command.env:
        if not _ENV_NAME.match(name) or name.startswith("TIDEWATCH_"):
            raise CommandRejected(f"env name {name!r} is not allowed (letters, digits, _; not TIDEWATCH_*)")
    return partial(run_process, [SHELL, "-c", command.command_line], cwd=cwd, env=dict(command.env))
