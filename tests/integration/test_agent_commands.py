"""The command executor running real processes: streaming, caps, timeouts, cancel, refusals."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from agent.commands.docker_actions import DockerCommands
from agent.commands.executor import CommandExecutor
from agent.commands.ping import prepare_ping
from agent.commands.stream import CommandRejected, ResponseStream
from agent.config import CommandSettings, FeatureSettings
from proto import agent_pb2
from tests.docker_fixtures import BUSYBOX_IMAGE, TEST_LABEL, LabelledContainers
from tests.prerequisites import require_program

S = agent_pb2.CommandStatus
FINAL = {
    S.COMMAND_STATUS_SUCCEEDED,
    S.COMMAND_STATUS_FAILED,
    S.COMMAND_STATUS_TIMED_OUT,
    S.COMMAND_STATUS_CANCELLED,
    S.COMMAND_STATUS_REJECTED,
}


class Recorder:
    """Collects emitted responses with their arrival time."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, agent_pb2.CommandResponse]] = []

    def __call__(self, response: agent_pb2.CommandResponse) -> None:
        self.seen.append((time.monotonic(), response))

    def of(self, command_id: str) -> list[agent_pb2.CommandResponse]:
        return [r for _, r in self.seen if r.command_id == command_id]

    def final(self, command_id: str) -> agent_pb2.CommandResponse | None:
        finals = [r for r in self.of(command_id) if r.status in FINAL]
        assert len(finals) <= 1, "more than one final status"
        return finals[0] if finals else None

    def stdout(self, command_id: str) -> bytes:
        return b"".join(r.stdout for r in self.of(command_id))

    async def wait_final(self, command_id: str, timeout_s: float = 10.0) -> agent_pb2.CommandResponse:
        deadline = time.monotonic() + timeout_s
        while (final := self.final(command_id)) is None:
            assert time.monotonic() < deadline, f"no final status for {command_id}"
            await asyncio.sleep(0.02)
        return final


def _executor(rec: Recorder, features: FeatureSettings | None = None, **settings: Any) -> CommandExecutor:
    return CommandExecutor(
        settings=CommandSettings(**settings),
        features=lambda: features or FeatureSettings(),
        emit=rec,
    )


def _shell(command_id: str, line: str, **kwargs: Any) -> agent_pb2.CommandRequest:
    return agent_pb2.CommandRequest(
        command_id=command_id, shell=agent_pb2.ShellCommand(command_line=line), **kwargs
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


async def test_shell_status_flow_and_output() -> None:
    rec = Recorder()
    ex = _executor(rec)
    ex.submit(_shell("c1", "echo out; echo err >&2; exit 0"))
    final = await rec.wait_final("c1")
    responses = rec.of("c1")
    assert [r.chunk_index for r in responses] == list(range(len(responses)))
    assert responses[0].status == S.COMMAND_STATUS_ACCEPTED
    assert responses[1].status == S.COMMAND_STATUS_RUNNING
    assert final is responses[-1]
    assert final.status == S.COMMAND_STATUS_SUCCEEDED and final.exit_code == 0
    assert rec.stdout("c1") == b"out\n"
    assert b"".join(r.stderr for r in responses) == b"err\n"


async def test_nonzero_exit_is_failed() -> None:
    rec = Recorder()
    _executor(rec).submit(_shell("c2", "exit 3"))
    final = await rec.wait_final("c2")
    assert (final.status, final.exit_code) == (S.COMMAND_STATUS_FAILED, 3)


async def test_output_is_streamed_while_running() -> None:
    rec = Recorder()
    _executor(rec).submit(_shell("c3", "echo first; sleep 0.8; echo second"))
    await rec.wait_final("c3")
    first_at = next(t for t, r in rec.seen if r.stdout == b"first\n")
    final_at = next(t for t, r in rec.seen if r.status in FINAL)
    assert final_at - first_at > 0.5  # the first line left long before the end
    assert rec.stdout("c3") == b"first\nsecond\n"


async def test_output_cap_truncates_and_says_so() -> None:
    rec = Recorder()
    request = _shell("c4", "head -c 200000 /dev/zero; echo done >&2", output_limit_bytes=5000)
    _executor(rec).submit(request)
    final = await rec.wait_final("c4")
    total = sum(len(r.stdout) + len(r.stderr) for r in rec.of("c4"))
    assert total == 5000
    assert final.output_truncated and final.status == S.COMMAND_STATUS_SUCCEEDED


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    rec = Recorder()
    pidfile = tmp_path / "child.pid"
    line = f"sleep 30 & echo $! > {pidfile}; echo started; wait"
    started = time.monotonic()
    _executor(rec).submit(_shell("c5", line, timeout_ms=500))
    final = await rec.wait_final("c5")
    assert final.status == S.COMMAND_STATUS_TIMED_OUT
    assert "timed out" in final.error_message
    assert time.monotonic() - started < 5
    assert rec.stdout("c5") == b"started\n"
    assert not _alive(int(pidfile.read_text()))


async def test_cancel_kills_the_target_which_ends_cancelled(tmp_path: Path) -> None:
    rec = Recorder()
    ex = _executor(rec)
    pidfile = tmp_path / "child.pid"
    ex.submit(_shell("long", f"sleep 30 & echo $! > {pidfile}; wait"))
    deadline = time.monotonic() + 5
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    cancel = agent_pb2.CancelCommand(target_command_id="long")
    ex.submit(agent_pb2.CommandRequest(command_id="stop-it", cancel=cancel))
    final = await rec.wait_final("long")
    assert final.status == S.COMMAND_STATUS_CANCELLED
    assert "stop-it" in final.error_message
    assert rec.final("stop-it") is not None
    assert rec.final("stop-it").status == S.COMMAND_STATUS_SUCCEEDED  # type: ignore[union-attr]
    assert not _alive(int(pidfile.read_text()))
    assert ex.running_ids == []


async def test_cancel_of_unknown_command_fails() -> None:
    rec = Recorder()
    cancel = agent_pb2.CancelCommand(target_command_id="ghost")
    _executor(rec).submit(agent_pb2.CommandRequest(command_id="x", cancel=cancel))
    final = await rec.wait_final("x")
    assert final.status == S.COMMAND_STATUS_FAILED and "ghost" in final.error_message


async def test_concurrency_is_bounded_and_shutdown_cancels() -> None:
    rec = Recorder()
    ex = _executor(rec, max_concurrent=1)
    ex.submit(_shell("a", "sleep 0.3"))
    ex.submit(_shell("b", "sleep 30"))
    await rec.wait_final("a")
    b_running = [t for t, r in rec.seen if r.command_id == "b" and r.status == S.COMMAND_STATUS_RUNNING]
    a_final = next(t for t, r in rec.seen if r.command_id == "a" and r.status in FINAL)
    assert b_running and b_running[0] >= a_final  # b waited for the one slot
    await ex.shutdown()
    assert rec.final("b").status == S.COMMAND_STATUS_CANCELLED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (agent_pb2.CommandRequest(command_id="m1"), "malformed or unknown command"),
        (_shell("", "true"), "command_id is empty"),
        (_shell("m2", "   "), "command_line is empty"),
        (
            agent_pb2.CommandRequest(
                command_id="m3",
                shell=agent_pb2.ShellCommand(command_line="pwd", working_directory="/nope"),
            ),
            "working_directory",
        ),
        (
            agent_pb2.CommandRequest(command_id="m4", script=agent_pb2.ScriptCommand()),
            "set inline_content or path",
        ),
        (
            agent_pb2.CommandRequest(
                command_id="m5",
                script=agent_pb2.ScriptCommand(inline_content="true", interpreter="/no/such/sh"),
            ),
            "interpreter",
        ),
        (
            agent_pb2.CommandRequest(
                command_id="m6", docker_action=agent_pb2.DockerContainerAction(container_id="web")
            ),
            "unknown docker action",
        ),
        (
            agent_pb2.CommandRequest(
                command_id="m7",
                docker_logs=agent_pb2.DockerLogsRequest(container_id="../../etc"),
            ),
            "not a container id",
        ),
    ],
)
async def test_malformed_commands_are_rejected(request_: agent_pb2.CommandRequest, message: str) -> None:
    rec = Recorder()
    ex = _executor(rec)
    ex.submit(request_)
    final = await rec.wait_final(request_.command_id)
    assert final.status == S.COMMAND_STATUS_REJECTED
    assert message in final.error_message
    assert len(rec.of(request_.command_id)) == 1  # refused before ACCEPTED
    ex.submit(_shell("after", "true"))  # and the executor keeps working
    assert (await rec.wait_final("after")).status == S.COMMAND_STATUS_SUCCEEDED


@pytest.mark.parametrize(
    ("request_", "feature"),
    [
        (_shell("d1", "true"), "shell"),
        (
            agent_pb2.CommandRequest(command_id="d2", script=agent_pb2.ScriptCommand(inline_content="true")),
            "script",
        ),
        (
            agent_pb2.CommandRequest(
                command_id="d3",
                docker_action=agent_pb2.DockerContainerAction(
                    container_id="web", action=agent_pb2.DockerContainerAction.ACTION_RESTART
                ),
            ),
            "docker_control",
        ),
    ],
)
async def test_disabled_feature_is_rejected(request_: agent_pb2.CommandRequest, feature: str) -> None:
    rec = Recorder()
    off = FeatureSettings(shell=False, script=False, docker_control=False)
    _executor(rec, off).submit(request_)
    final = await rec.wait_final(request_.command_id)
    assert final.status == S.COMMAND_STATUS_REJECTED
    assert final.error_message == f"disabled on this agent: {feature}"


async def test_children_do_not_see_the_agent_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEWATCH_AGENT_TOKEN", "secret-token")
    rec = Recorder()
    _executor(rec).submit(_shell("env", "echo ${TIDEWATCH_AGENT_TOKEN:-none}"))
    await rec.wait_final("env")
    assert rec.stdout("env") == b"none\n"


async def test_inline_script_with_arguments_and_path_script(tmp_path: Path) -> None:
    rec = Recorder()
    ex = _executor(rec)
    inline = agent_pb2.ScriptCommand(
        inline_content='echo "$1-$2"; echo "$0" > ' + str(tmp_path / "self"), arguments=["a", "b c"]
    )
    ex.submit(agent_pb2.CommandRequest(command_id="s1", script=inline))
    assert (await rec.wait_final("s1")).status == S.COMMAND_STATUS_SUCCEEDED
    assert rec.stdout("s1") == b"a-b c\n"
    temp_script = (tmp_path / "self").read_text().strip()
    assert not await asyncio.to_thread(os.path.exists, temp_script)  # temp file removed
    script = tmp_path / "job.sh"
    script.write_text("echo from-path $1\nexit 4\n")
    by_path = agent_pb2.ScriptCommand(path=str(script), interpreter="sh", arguments=["x"])
    ex.submit(agent_pb2.CommandRequest(command_id="s2", script=by_path))
    final = await rec.wait_final("s2")
    assert (final.status, final.exit_code) == (S.COMMAND_STATUS_FAILED, 4)
    assert rec.stdout("s2") == b"from-path x\n"


@pytest.mark.parametrize(
    "host",
    ["8.8.8.8; rm -rf /", "-f", "$(id)", "a b", "", "host\n", "`id`", "x" * 300, "-c1 127.0.0.1"],
)
def test_ping_rejects_anything_but_a_host(host: str) -> None:
    with pytest.raises(CommandRejected, match="not a valid host"):
        prepare_ping(agent_pb2.PingCommand(host=host), which=lambda _: "/bin/ping")


def test_ping_count_bounds() -> None:
    with pytest.raises(CommandRejected, match="count"):
        prepare_ping(agent_pb2.PingCommand(host="example.com", count=1000), which=lambda _: "/x")


async def test_ping_argv_and_missing_binary() -> None:
    rec = Recorder()
    stream = ResponseStream("p", rec, output_limit_bytes=1000)
    job = prepare_ping(agent_pb2.PingCommand(host="2001:db8::1"), which=lambda _: "/bin/echo")
    outcome = await job(stream, 5.0)
    stream.finish(outcome)
    assert rec.stdout("p") == b"-c 4 2001:db8::1\n"
    missing = prepare_ping(agent_pb2.PingCommand(host="example.com"), which=lambda _: None)
    outcome = await missing(ResponseStream("q", rec, output_limit_bytes=10), 5.0)
    assert outcome.status == S.COMMAND_STATUS_FAILED
    assert "ping is not installed" in outcome.error_message


async def test_real_ping_of_localhost() -> None:
    require_program("ping")
    rec = Recorder()
    request = agent_pb2.CommandRequest(
        command_id="ping", ping=agent_pb2.PingCommand(host="127.0.0.1", count=1)
    )
    _executor(rec).submit(request)
    final = await rec.wait_final("ping")
    assert final.status == S.COMMAND_STATUS_SUCCEEDED, rec.stdout("ping")


# -- Docker: error mapping with a stand-in client; the real engine below --------------------


class _NoEngine:
    def __init__(self) -> None:
        import docker.errors

        raise docker.errors.DockerException("Error while fetching server API version")


async def test_docker_unavailable_is_a_clear_failure() -> None:
    rec = Recorder()
    ex = CommandExecutor(
        settings=CommandSettings(),
        features=FeatureSettings,
        emit=rec,
        docker=DockerCommands(client_factory=_NoEngine),
    )
    ex.submit(
        agent_pb2.CommandRequest(command_id="dk", docker_logs=agent_pb2.DockerLogsRequest(container_id="web"))
    )
    final = await rec.wait_final("dk")
    assert final.status == S.COMMAND_STATUS_FAILED
    assert final.error_message.startswith("docker unavailable:")


@pytest.mark.docker
async def test_docker_actions_and_logs_on_the_real_engine(labelled_containers: LabelledContainers) -> None:
    # Created, not started: the first action starts it. Removed by label afterwards.
    container = labelled_containers.client.containers.create(
        BUSYBOX_IMAGE,
        ["/bin/sh", "-c", "echo hello-from-container; sleep 300"],
        network_mode="none",
        labels={TEST_LABEL: labelled_containers.label_value},
    )
    try:
        rec = Recorder()
        ex = _executor(rec)
        action = agent_pb2.DockerContainerAction
        for n, verb in enumerate((action.ACTION_START, action.ACTION_RESTART, action.ACTION_STOP)):
            ex.submit(
                agent_pb2.CommandRequest(
                    command_id=f"act{n}",
                    docker_action=action(container_id=container.name, action=verb),
                    timeout_ms=60_000,
                )
            )
            final = await rec.wait_final(f"act{n}", timeout_s=60)
            assert final.status == S.COMMAND_STATUS_SUCCEEDED, final.error_message
        container.reload()
        assert container.status == "exited"
        ex.submit(
            agent_pb2.CommandRequest(
                command_id="logs",
                docker_logs=agent_pb2.DockerLogsRequest(container_id=container.id, tail_lines=5),
            )
        )
        assert (await rec.wait_final("logs")).status == S.COMMAND_STATUS_SUCCEEDED
        assert b"hello-from-container" in rec.stdout("logs")
        ex.submit(
            agent_pb2.CommandRequest(
                command_id="gone",
                docker_action=action(container_id="no-such-container-xyz", action=action.ACTION_START),
            )
        )
        final = await rec.wait_final("gone")
        assert final.status == S.COMMAND_STATUS_FAILED
        assert final.error_message.startswith("no such container")
    finally:
        container.remove(force=True)


async def test_shell_env_reaches_the_child_but_not_tidewatch_names() -> None:
    rec = Recorder()
    ex = _executor(rec)
    ok = _shell("env1", 'printf "%s" "$GREETING"')
    ok.shell.env["GREETING"] = "hi there"
    ex.submit(ok)
    assert (await rec.wait_final("env1")).status == S.COMMAND_STATUS_SUCCEEDED
    assert rec.stdout("env1") == b"hi there"
    bad = _shell("env2", "true")
    bad.shell.env["TIDEWATCH_AGENT_TOKEN"] = "x"
    ex.submit(bad)
    final = await rec.wait_final("env2")
    assert final.status == S.COMMAND_STATUS_REJECTED and "TIDEWATCH_" in final.error_message


@pytest.mark.docker
async def test_docker_pause_unpause_kill_and_logs_options(docker_engine: Any) -> None:
    container = docker_engine.containers.run(
        BUSYBOX_IMAGE, ["sh", "-c", "echo first-line; sleep 300"], detach=True, network_mode="none"
    )
    try:
        rec = Recorder()
        ex = _executor(rec)
        action = agent_pb2.DockerContainerAction
        expected = {
            action.ACTION_PAUSE: "paused",
            action.ACTION_UNPAUSE: "running",
            action.ACTION_KILL: "exited",
        }
        for n, (verb, state) in enumerate(expected.items()):
            ex.submit(
                agent_pb2.CommandRequest(
                    command_id=f"pk{n}", docker_action=action(container_id=container.id, action=verb)
                )
            )
            final = await rec.wait_final(f"pk{n}", timeout_s=60)
            assert final.status == S.COMMAND_STATUS_SUCCEEDED, final.error_message
            container.reload()
            assert container.status == state
        ex.submit(
            agent_pb2.CommandRequest(
                command_id="lg",
                docker_logs=agent_pb2.DockerLogsRequest(
                    container_id=container.id, timestamps=True, since_unix_ms=1
                ),
            )
        )
        assert (await rec.wait_final("lg")).status == S.COMMAND_STATUS_SUCCEEDED
        line = rec.stdout("lg").decode().strip()
        assert line.endswith("first-line") and line[:4].isdigit()  # an RFC 3339 time first
    finally:
        container.remove(force=True)
