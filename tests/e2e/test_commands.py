"""Commands end to end: API -> database -> two real collectors -> real agents -> Docker engine,
and the output back over the command socket."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.docker_fixtures import LabelledContainers, docker_engine, labelled_containers
from tests.e2e.commands_stack import Stack, start_stack

__all__ = ["docker_engine", "labelled_containers"]

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docker_engine: Any) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("commands"))


def _container_listed(
    stack: Stack, name: str, state: str = "running", timeout_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with stack.client("viewer") as client:
        while True:
            rows = client.get(f"/api/vps/{stack.a.id}/containers").json()
            match = [r for r in rows if r["name"] == name and r["state"] == state]
            if match:
                return match[0]  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, f"{name} never listed as {state}: {rows}"
            time.sleep(0.2)


def _started_at(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_restart_a_container(stack: Stack, labelled_containers: LabelledContainers) -> None:
    container = labelled_containers.run(
        "sh -c 'echo line-one; echo line-two; sleep 3600'", name=f"web-{os.getpid()}"
    )
    _container_listed(stack, container.name)
    before = _started_at(container)
    response = stack.command(
        stack.a,
        {"kind": "docker_action", "container_id": container.name, "action": "restart", "stop_timeout_s": 1},
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/commands/{created['id']}"
    assert created["status"] == "pending" and created["requested_by"] == "operator"
    assert created["args"]["container_id"] == container.id  # resolved from the name
    record = stack.wait_final(created["id"])
    assert record["status"] == "succeeded", record
    assert record["exit_code"] == 0 and record["duration_ms"] is not None
    assert record["dispatched_by"] in ("collector-1", "collector-2")
    assert _started_at(container) != before
    deadline = time.monotonic() + 30
    with stack.client("viewer") as client:
        while True:
            events = client.get(f"/api/vps/{stack.a.id}/containers/{container.name}/events").json()
            # A sample may fall between the stop and the start (stopped, then started)
            # or not (restarted): either way a start after the command was asked for.
            created_at = datetime.fromisoformat(created["created_at"])
            if any(
                e["event"] in ("restarted", "started") and datetime.fromisoformat(e["time"]) >= created_at
                for e in events
            ):
                break
            assert time.monotonic() < deadline, f"no restarted event: {events}"
            time.sleep(0.3)


def test_stop_start_then_logs(stack: Stack, labelled_containers: LabelledContainers) -> None:
    container = labelled_containers.run(
        "sh -c 'echo line-one; echo line-two; sleep 3600'", name=f"logs-{os.getpid()}"
    )
    _container_listed(stack, container.name)
    for action, state in (("stop", "exited"), ("start", "running")):
        response = stack.command(
            stack.a,
            {"kind": "docker_action", "container_id": container.name, "action": action, "stop_timeout_s": 1},
        )
        assert response.status_code == 202, response.text
        assert stack.wait_final(response.json()["id"])["status"] == "succeeded"
        _container_listed(stack, container.name, state)
    response = stack.command(stack.a, {"kind": "docker_logs", "container_id": container.id[:12], "tail": 100})
    record = stack.wait_final(response.json()["id"])
    assert record["status"] == "succeeded", record
    # Printed once per start: before the stop and after the start.
    assert record["stdout"].splitlines().count("line-one") == 2, record["stdout"]
    assert "line-two" in record["stdout"]


def test_shell_echo_streams_exact_output(stack: Stack) -> None:
    response = stack.command(stack.a, {"kind": "shell", "command": "echo hello tidewatch"})
    assert response.status_code == 202, response.text
    stack.client("viewer").close()
    messages = asyncio.run(stack.follow(response.json()["id"]))
    output = "".join(m["stdout"] for m in messages if m["type"] == "output")
    assert output == "hello tidewatch\n"
    assert messages[-1]["type"] == "end"
    assert messages[-1]["command"]["status"] == "succeeded"
    assert messages[-1]["command"]["exit_code"] == 0


def test_late_joiner_gets_everything_once(stack: Stack) -> None:
    line = "i=0; while [ $i -lt 30 ]; do echo n$i; i=$((i+1)); sleep 0.05; done"
    response = stack.command(stack.a, {"kind": "shell", "command": line})
    command_id = response.json()["id"]
    stack.wait_status(command_id, {"running", "succeeded"})
    time.sleep(0.5)  # some output is stored before this client joins
    messages = asyncio.run(stack.follow(command_id))
    chunks = [m for m in messages if m["type"] == "output"]
    seqs = [m["seq"] for m in chunks]
    assert seqs == sorted(set(seqs))
    assert "".join(m["stdout"] for m in chunks) == "".join(f"n{i}\n" for i in range(30))
    assert messages[-1]["command"]["status"] == "succeeded"


def test_timeout_kills_the_process(stack: Stack, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    response = stack.command(
        stack.a, {"kind": "shell", "command": f"sleep 60 & echo $! > {pidfile}; wait", "timeout_s": 1}
    )
    record = stack.wait_final(response.json()["id"], 30)
    assert record["status"] == "timed_out", record
    assert "timed out" in record["error_message"]
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the timed-out process is still alive"
        time.sleep(0.1)


def test_cancel_stops_a_running_command(stack: Stack) -> None:
    response = stack.command(stack.a, {"kind": "shell", "command": "echo started; sleep 60"})
    command_id = response.json()["id"]
    stack.wait_status(command_id, {"running"})
    with stack.client("operator") as client:
        cancel = client.post(f"/api/commands/{command_id}/cancel")
    assert cancel.status_code == 202, cancel.text
    record = stack.wait_final(command_id, 30)
    assert record["status"] == "cancelled", record
    assert "cancelled by" in record["error_message"]
    with stack.client("operator") as client:
        again = client.post(f"/api/commands/{command_id}/cancel")
    assert again.status_code == 409


def test_offline_agent_409_or_queued_then_expired(stack: Stack) -> None:
    before = stack.count_commands()
    response = stack.command(stack.b, {"kind": "shell", "command": "echo hi"})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "queue_for_s"
    assert stack.count_commands() == before
    queued = stack.command(stack.b, {"kind": "shell", "command": "echo hi", "queue_for_s": 1})
    assert queued.status_code == 202, queued.text
    record = stack.wait_final(queued.json()["id"], 30)
    assert record["status"] == "expired", record
    assert "expired" in record["error_message"]


def test_viewer_is_refused_and_commands_are_audited(stack: Stack) -> None:
    before = stack.count_commands()
    response = stack.command(stack.a, {"kind": "shell", "command": "echo hi"}, role="viewer")
    assert response.status_code == 403
    assert stack.count_commands() == before
    response = stack.command(
        stack.a, {"kind": "shell", "command": "echo $TOKEN", "env": {"TOKEN": "s3cret-value"}}
    )
    assert response.status_code == 202
    record = stack.wait_final(response.json()["id"])
    assert record["stdout"] == "s3cret-value\n"
    assert record["args"]["env"] == {"TOKEN": "***"}
    with psycopg.connect(stack.dsn) as conn:
        row = conn.execute(
            "SELECT actor, target, detail FROM audit_log WHERE action = 'command.create'"
            " AND detail->>'command_id' = %s",
            (record["id"],),
        ).fetchone()
    assert row is not None
    actor, target, detail = row
    assert (actor, target, detail["kind"]) == ("operator", f"vps:{stack.a.id}", "shell")
    assert "s3cret-value" not in str(detail) and detail["args"]["env"] == {"TOKEN": "***"}


def test_switched_off_kind_is_rejected_and_shown(stack: Stack) -> None:
    with stack.client("viewer") as client:
        state_c = client.get(f"/api/vps/{stack.c.id}/agent").json()
        state_a = client.get(f"/api/vps/{stack.a.id}/agent").json()
    assert "shell" not in state_c["allowed_kinds"] and "script" in state_c["allowed_kinds"]
    assert "shell" in state_a["allowed_kinds"]
    response = stack.command(stack.c, {"kind": "shell", "command": "echo hi"})
    record = stack.wait_final(response.json()["id"])
    assert record["status"] == "rejected"
    assert "disabled on this agent: shell" in record["error_message"]


def test_heartbeat_counters_are_stored(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    with stack.client("viewer") as client:
        while (state := client.get(f"/api/vps/{stack.a.id}/agent").json())["heartbeat_at"] is None:
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
    assert datetime.fromisoformat(state["heartbeat_at"]).timestamp() > time.time() - 60
    for key in ("pending_batches", "spooled_bytes", "dropped_batches_total", "docker_sample_overruns_total"):
        assert state[key] >= 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "format_disk"}, "kind"),
        ({"kind": "shell", "command": ""}, "command"),
        ({"kind": "shell", "command": "   "}, "command"),
        ({"kind": "shell", "command": "x" * 20_000}, "command"),
        ({"kind": "script", "inline": "echo", "args": ["a"] * 100}, "args"),
        ({"kind": "shell", "command": "echo \u0000bad"}, "command"),
        ({"kind": "shell", "command": "echo", "env": {"A": "b\u0000"}}, "env"),
        ({"kind": "docker_action", "container_id": "nope-not-here", "action": "restart"}, "container_id"),
        ({"kind": "docker_action", "container_id": "web", "action": "explode"}, "action"),
        ({"kind": "ping", "host": "-f", "count": 1}, "host"),
    ],
)
def test_bad_input_names_the_field_and_dispatches_nothing(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    before = stack.count_commands()
    response = stack.command(stack.a, body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert any(f == field or f.startswith(f"{field}.") or f.startswith(f"{field}[") for f in fields), (
        response.json()
    )
    assert stack.count_commands() == before


def test_container_of_another_vps_and_missing_vps(
    stack: Stack, labelled_containers: LabelledContainers
) -> None:
    container = labelled_containers.run("sleep 3600", name=f"only-a-{os.getpid()}")
    _container_listed(stack, container.name)
    before = stack.count_commands()
    response = stack.command(
        stack.c, {"kind": "docker_action", "container_id": container.name, "action": "stop"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "container_id"
    with stack.client() as client:
        missing = client.post("/api/vps/999999/commands", json={"kind": "shell", "command": "echo"})
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "vps_id"
    assert stack.count_commands() == before


def test_two_collectors_each_command_runs_once(stack: Stack, tmp_path: Path) -> None:
    marks = {"a": tmp_path / "a.log", "c": tmp_path / "c.log"}
    ids = []
    for i in range(10):
        ids.append(
            stack.command(stack.a, {"kind": "shell", "command": f"echo {i} >> {marks['a']}"}).json()["id"]
        )
        ids.append(
            stack.command(
                stack.c, {"kind": "script", "inline": f"echo {i} >> {marks['c']}\n", "interpreter": "sh"}
            ).json()["id"]
        )
    records = [stack.wait_final(i) for i in ids]
    assert {r["status"] for r in records} == {"succeeded"}, records
    assert {r["dispatched_by"] for r in records if r["vps_id"] == stack.a.id} == {"collector-1"}
    assert {r["dispatched_by"] for r in records if r["vps_id"] == stack.c.id} == {"collector-2"}
    for path in marks.values():
        assert sorted(path.read_text().split()) == sorted(str(i) for i in range(10))


def test_dispatched_then_agent_gone_ends_failed(stack: Stack) -> None:
    """Last: it kills agent C."""
    response = stack.command(stack.c, {"kind": "script", "inline": "echo up; sleep 60\n"})
    command_id = response.json()["id"]
    stack.wait_status(command_id, {"running"})
    stack.agents["c"].kill()
    record = stack.wait_final(command_id, 30)
    assert record["status"] == "failed"
    assert record["error_message"] == "agent disconnected"
