"""From a validated request body to what is stored: the agent's CommandRequest (as
protobuf JSON) and the arguments shown in records and audit (env values redacted)."""

from __future__ import annotations

from typing import Any

import msgspec

from common.api_models.commands import (
    CommandCreate,
    DockerActionCommand,
    DockerLogsCommand,
    PingCommand,
    ScriptCommand,
    ShellCommand,
)

__all__ = ["REDACTED", "agent_request", "shown_args"]

REDACTED = "***"


def shown_args(body: CommandCreate, container_id: str | None = None) -> dict[str, Any]:
    """The body as a JSON object for records and audit; env values never appear."""
    args: dict[str, Any] = msgspec.to_builtins(body)
    args.pop("kind", None)
    if isinstance(body, ShellCommand) and body.env:
        args["env"] = dict.fromkeys(body.env, REDACTED)
    if container_id is not None:
        args["container_id"] = container_id
    return args


def agent_request(body: CommandCreate, container_id: str | None = None) -> dict[str, Any]:
    """The CommandRequest in the protobuf JSON mapping (proto field names), minus its id."""
    request: dict[str, Any] = {"timeout_ms": body.timeout_s * 1000}
    match body:
        case DockerActionCommand():
            request["docker_action"] = {
                "container_id": container_id or body.container_id,
                "action": f"ACTION_{body.action.upper()}",
                "stop_timeout_s": body.stop_timeout_s,
            }
        case DockerLogsCommand():
            logs: dict[str, Any] = {
                "container_id": container_id or body.container_id,
                "tail_lines": body.tail,
                "timestamps": body.timestamps,
            }
            if body.since is not None:
                logs["since_unix_ms"] = str(int(body.since.timestamp() * 1000))
            request["docker_logs"] = logs
        case ShellCommand():
            request["shell"] = {
                "command_line": body.command,
                "working_directory": body.cwd,
                "env": dict(body.env),
            }
        case ScriptCommand():
            script: dict[str, Any] = {"interpreter": body.interpreter, "arguments": list(body.args)}
            if body.inline is not None:
                script["inline_content"] = body.inline
            else:
                script["path"] = body.path
            request["script"] = script
        case PingCommand():
            request["ping"] = {"host": body.host, "count": body.count}
    return request
