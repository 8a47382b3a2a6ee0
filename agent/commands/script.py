"""Scripts: inline content (written to a private temp file) or a path, run by an interpreter."""

from __future__ import annotations

import os
import shutil
import tempfile

from agent.commands.process import run_process
from agent.commands.shell import SHELL
from agent.commands.stream import CommandRejected, Job, Outcome, ResponseStream
from proto import agent_pb2

__all__ = ["prepare_script"]


def _interpreter(name: str) -> str:
    if not name:
        return SHELL
    resolved = name if os.path.isabs(name) else shutil.which(name)
    if resolved is None or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise CommandRejected(f"interpreter {name!r} is not an executable on this agent")
    return resolved


def prepare_script(command: agent_pb2.ScriptCommand) -> Job:
    """Validate a ScriptCommand and return the job that runs it."""
    interpreter = _interpreter(command.interpreter)
    arguments = list(command.arguments)
    source = command.WhichOneof("source")
    if source == "path":
        path = command.path
        if not os.path.isabs(path) or not os.path.isfile(path):
            raise CommandRejected(f"script path {path!r} is not an existing absolute file")

        async def run_path(stream: ResponseStream, timeout_s: float) -> Outcome:
            return await run_process([interpreter, path, *arguments], stream, timeout_s)

        return run_path
    if source == "inline_content":
        content = command.inline_content

        async def run_inline(stream: ResponseStream, timeout_s: float) -> Outcome:
            # mkstemp makes the file 0600 for the agent's user only.
            fd, path = tempfile.mkstemp(prefix="tidewatch-script-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(content)
                return await run_process([interpreter, path, *arguments], stream, timeout_s)
            finally:
                os.unlink(path)

        return run_inline
    raise CommandRejected("malformed script command: set inline_content or path")
