"""Commands to agents: the request bodies (a tagged union on ``kind``), the records,
container state, per-agent state, and the messages of the command output socket."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from common.api_models.alerts import AwareDateTime

__all__ = [
    "COMMAND_KINDS",
    "COMMAND_UPDATES_CHANNEL",
    "FINAL_STATUSES",
    "AgentStateOut",
    "CommandCreate",
    "CommandEnd",
    "CommandOut",
    "CommandOutputChunk",
    "CommandStatusChanged",
    "CommandSummary",
    "ContainerEventOut",
    "ContainerOut",
    "DockerActionCommand",
    "DockerLogsCommand",
    "PingCommand",
    "ScriptCommand",
    "ShellCommand",
]

COMMAND_UPDATES_CHANNEL = "tidewatch_command_updates"
COMMAND_KINDS = ("docker_action", "docker_logs", "shell", "script", "ping")
FINAL_STATUSES = frozenset({"succeeded", "failed", "timed_out", "cancelled", "rejected", "expired"})

# Free text for a command: tabs and line breaks are fine, NUL and other control
# characters are not (PostgreSQL refuses NUL; the rest hide what runs).
_COMMAND_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
CommandLine = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=16_384,
        pattern=r"^(?=[\s\S]*\S)[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
        description="Run by /bin/sh -c; not empty or blank, no NUL or control characters",
        examples=["echo hello"],
    ),
]
ContainerRef = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$",
        description="A container id (full or a prefix of at least 4) or name on this VPS",
        examples=["web"],
    ),
]
Host = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$",
        description="A host name or IP address",
        examples=["127.0.0.1"],
    ),
]
AbsolutePath = Annotated[str, Meta(max_length=4096, pattern=r"^(/[^\x00-\x1f\x7f]*)?$")]
EnvName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, Meta(max_length=4096, pattern=_ONE_LINE)]
Argument = Annotated[str, Meta(max_length=4096, pattern=_ONE_LINE)]
TimeoutS = Annotated[int, Meta(ge=1, le=3600, description="Seconds before the agent kills it")]
QueueForS = Annotated[
    int,
    Meta(ge=1, le=86_400, description="If the agent is offline, keep the command this long for it"),
]


class _Command(Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    queue_for_s: QueueForS | None = None


class DockerActionCommand(_Command, tag="docker_action"):
    """Start, stop, restart, kill, pause or unpause a container."""

    container_id: ContainerRef
    action: Literal["start", "stop", "restart", "kill", "pause", "unpause"]
    # How long Docker waits after SIGTERM on stop/restart before SIGKILL.
    stop_timeout_s: Annotated[int, Meta(ge=1, le=600)] = 10
    timeout_s: TimeoutS = 60


class DockerLogsCommand(_Command, tag="docker_logs"):
    """The last ``tail`` lines a container printed, optionally since a time."""

    container_id: ContainerRef
    tail: Annotated[int, Meta(ge=1, le=10_000)] = 100
    # An offset is required: an agent's logs are asked for by absolute instant.
    since: AwareDateTime | None = None
    timestamps: bool = False
    timeout_s: TimeoutS = 30


class ShellCommand(_Command, tag="shell"):
    """A command line for ``/bin/sh -c``; env values are redacted in records and audit."""

    command: CommandLine
    timeout_s: TimeoutS = 60
    cwd: AbsolutePath = ""
    env: Annotated[dict[EnvName, EnvValue], Meta(max_length=64)] = {}


class ScriptCommand(_Command, tag="script"):
    """A script, inline or a path on the agent, run by ``interpreter`` (default /bin/sh)."""

    inline: Annotated[str, Meta(min_length=1, max_length=262_144, pattern=_COMMAND_TEXT)] | None = None
    path: AbsolutePath | None = None
    interpreter: Annotated[str, Meta(max_length=256, pattern=r"^[A-Za-z0-9_./+-]*$")] = ""
    args: Annotated[list[Argument], Meta(max_length=64)] = []
    timeout_s: TimeoutS = 300


class PingCommand(_Command, tag="ping"):
    """The system ping against a host."""

    host: Host
    count: Annotated[int, Meta(ge=1, le=100)] = 4
    timeout_s: TimeoutS = 30


CommandCreate = DockerActionCommand | DockerLogsCommand | ShellCommand | ScriptCommand | PingCommand


class CommandSummary(Struct, kw_only=True):
    """A command's record without its output."""

    id: str
    vps_id: int
    kind: str
    args: dict[str, Any]
    status: str
    requested_by: str
    created_at: datetime
    dispatched_at: datetime | None
    dispatched_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    exit_code: int | None
    error_message: str
    output_truncated: bool
    output_bytes: int
    duration_ms: int | None
    cancel_of: str | None = None


class CommandOut(CommandSummary, kw_only=True):
    """A command's record with its stored output (capped; ``output_truncated`` says so)."""

    stdout: str
    stderr: str


class ContainerOut(Struct, kw_only=True):
    """The newest known state of a container, with its newest resource sample."""

    container_id: str
    name: str
    image: str
    state: str
    status: str
    health: str | None
    started_at: datetime | None
    restart_count: int
    exit_code: int | None
    ports: list[str]
    last_seen: datetime
    cpu_percent: float | None
    memory_usage_bytes: int | None
    memory_limit_bytes: int | None
    last_event: str | None
    last_event_at: datetime | None


class ContainerEventOut(Struct, kw_only=True):
    time: datetime
    event: str
    exit_code: int | None
    detail: str


class AgentStateOut(Struct, kw_only=True):
    """What the agent allows (its handshake) and its newest heartbeat counters."""

    vps_id: int
    connected: bool
    local_features: dict[str, bool]
    allowed_kinds: list[str]
    heartbeat_at: datetime | None
    pending_batches: int
    spooled_bytes: int
    dropped_batches_total: int
    docker_sample_overruns_total: int
    control_messages_dropped_total: int


class CommandOutputChunk(Struct, tag="output", tag_field="type"):
    """Output of a command, in order; ``seq`` only grows, nothing is sent twice."""

    seq: int
    stdout: str
    stderr: str


class CommandStatusChanged(Struct, tag="status", tag_field="type"):
    """Sent first (the record as stored) and whenever the status changes."""

    command: CommandSummary


class CommandEnd(Struct, tag="end", tag_field="type"):
    """The final record (without output: the chunks carried it). The socket closes after."""

    command: CommandSummary
