"""Request bodies of POST /api/vps/{id}/commands: validation, what the agent gets, what is shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format

from api.commands.requests import REDACTED, agent_request, shown_args
from common.api_models.commands import CommandCreate, DockerActionCommand, ShellCommand
from proto import agent_pb2

_decoder: msgspec.json.Decoder[CommandCreate] = msgspec.json.Decoder(CommandCreate)


def decode(body: dict[str, Any]) -> CommandCreate:
    return _decoder.decode(msgspec.json.encode(body))


def to_proto(request: dict[str, Any]) -> agent_pb2.CommandRequest:
    message = agent_pb2.CommandRequest()
    json_format.ParseDict(request, message)
    return message


def test_shell_reaches_the_agent_with_env_and_is_shown_redacted() -> None:
    body = decode(
        {"kind": "shell", "command": "echo $A", "env": {"A": "secret"}, "timeout_s": 5, "cwd": "/tmp"}
    )
    message = to_proto(agent_request(body))
    assert message.shell.command_line == "echo $A"
    assert dict(message.shell.env) == {"A": "secret"}
    assert message.shell.working_directory == "/tmp" and message.timeout_ms == 5000
    shown = shown_args(body)
    assert shown["env"] == {"A": REDACTED} and "secret" not in str(shown)
    assert "kind" not in shown


@pytest.mark.parametrize("action", ["start", "stop", "restart", "kill", "pause", "unpause"])
def test_every_docker_action_maps_to_the_proto_enum(action: str) -> None:
    body = decode({"kind": "docker_action", "container_id": "web", "action": action, "stop_timeout_s": 3})
    assert isinstance(body, DockerActionCommand)
    message = to_proto(agent_request(body, "f" * 64))
    assert message.docker_action.container_id == "f" * 64  # the resolved id, not the name
    assert (
        agent_pb2.DockerContainerAction.Action.Name(message.docker_action.action)
        == f"ACTION_{action.upper()}"
    )
    assert message.docker_action.stop_timeout_s == 3


def test_logs_since_and_timestamps() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = decode(
        {
            "kind": "docker_logs",
            "container_id": "web",
            "tail": 7,
            "since": since.isoformat(),
            "timestamps": True,
        }
    )
    message = to_proto(agent_request(body, "abc"))
    assert message.docker_logs.tail_lines == 7 and message.docker_logs.timestamps
    assert message.docker_logs.since_unix_ms == int(since.timestamp() * 1000)


def test_script_inline_and_path_and_ping() -> None:
    inline = to_proto(
        agent_request(decode({"kind": "script", "inline": "echo 1\n", "args": ["x"], "interpreter": "sh"}))
    )
    assert inline.script.inline_content == "echo 1\n" and list(inline.script.arguments) == ["x"]
    path = to_proto(agent_request(decode({"kind": "script", "path": "/opt/run.sh"})))
    assert path.script.path == "/opt/run.sh"
    ping = to_proto(agent_request(decode({"kind": "ping", "host": "127.0.0.1", "count": 2})))
    assert (ping.ping.host, ping.ping.count) == ("127.0.0.1", 2)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"kind": "nope"}, "kind"),
        ({"kind": "shell", "command": ""}, "command"),
        ({"kind": "shell", "command": " \n\t"}, "command"),
        ({"kind": "shell", "command": "echo \x00"}, "command"),
        ({"kind": "shell", "command": "echo \x1b[2J"}, "command"),
        ({"kind": "shell", "command": "echo", "env": {"BAD-NAME": "x"}}, "env"),
        ({"kind": "shell", "command": "echo", "cwd": "relative"}, "cwd"),
        ({"kind": "shell", "command": "echo", "surprise": 1}, "surprise"),
        ({"kind": "ping", "host": "-c1"}, "host"),
        ({"kind": "docker_action", "container_id": "../x", "action": "start"}, "container_id"),
        (
            {"kind": "docker_action", "container_id": "web", "action": "start", "stop_timeout_s": 0},
            "stop_timeout_s",
        ),
        ({"kind": "shell", "command": "echo", "queue_for_s": 0}, "queue_for_s"),
    ],
)
def test_bad_bodies_fail_naming_the_field(body: dict[str, Any], where: str) -> None:
    with pytest.raises(msgspec.ValidationError) as error:
        decode(body)
    assert where in str(error.value)


def test_multiline_commands_and_scripts_are_fine() -> None:
    body = decode({"kind": "shell", "command": "echo a\necho b\techo c"})
    assert isinstance(body, ShellCommand) and body.command.count("\n") == 1
