"""Building the CommandResponse messages of one command, in order, with an output cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from proto import agent_pb2

__all__ = [
    "CommandRejected",
    "Emit",
    "Job",
    "Outcome",
    "ResponseStream",
    "Status",
]

Status = agent_pb2.CommandStatus
Emit = Callable[[agent_pb2.CommandResponse], None]

# Output is sent at least this often while a command runs, or sooner when this much piles up.
FLUSH_INTERVAL_S = 0.2
FLUSH_BYTES = 16 * 1024


class CommandRejected(Exception):
    """The command is refused before running; the message tells the operator why."""


@dataclass(frozen=True)
class Outcome:
    """The final status of a command."""

    status: agent_pb2.CommandStatus
    exit_code: int = 0
    error_message: str = ""


# A prepared command: runs with its response stream and timeout, returns its outcome.
Job = Callable[["ResponseStream", float], Awaitable[Outcome]]


class ResponseStream:
    """Emits the responses of one command: statuses, output chunks, then one final status.

    ``chunk_index`` counts every response of the command from 0, so the server
    can order and de-duplicate them. Output beyond ``output_limit_bytes``
    (stdout and stderr together) is discarded and ``output_truncated`` set.
    """

    def __init__(self, command_id: str, emit: Emit, *, output_limit_bytes: int) -> None:
        self.command_id = command_id
        self._emit = emit
        self._limit = output_limit_bytes
        self._kept = 0
        self._index = 0
        self._stdout = bytearray()
        self._stderr = bytearray()
        self.truncated = False
        self.finished = False

    def _send(self, response: agent_pb2.CommandResponse) -> None:
        response.command_id = self.command_id
        response.chunk_index = self._index
        self._index += 1
        self._emit(response)

    def status(self, status: agent_pb2.CommandStatus) -> None:
        """Emit a non-final status (ACCEPTED, RUNNING)."""
        self._send(agent_pb2.CommandResponse(status=status))

    def add(self, stdout: bytes = b"", stderr: bytes = b"") -> None:
        """Buffer output, within the cap; emits a chunk once enough is buffered."""
        for data, buffer in ((stdout, self._stdout), (stderr, self._stderr)):
            room = self._limit - self._kept
            if len(data) > room:
                self.truncated = True
                data = data[: max(room, 0)]
            buffer.extend(data)
            self._kept += len(data)
        if len(self._stdout) + len(self._stderr) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Emit buffered output as a RUNNING chunk, if there is any."""
        if not self._stdout and not self._stderr:
            return
        self._send(
            agent_pb2.CommandResponse(
                status=Status.COMMAND_STATUS_RUNNING,
                stdout=bytes(self._stdout),
                stderr=bytes(self._stderr),
                output_truncated=self.truncated,
            )
        )
        self._stdout.clear()
        self._stderr.clear()

    def finish(self, outcome: Outcome) -> None:
        """Flush and emit the single final status; later calls are ignored."""
        if self.finished:
            return
        self.flush()
        self.finished = True
        self._send(
            agent_pb2.CommandResponse(
                status=outcome.status,
                exit_code=outcome.exit_code,
                error_message=outcome.error_message,
                output_truncated=self.truncated,
            )
        )
