"""Command routes in process, against the real database, with no agent: queueing,
paging and filters, cancel before dispatch, the socket for an ended command, OpenAPI."""

from __future__ import annotations

import uuid

import psycopg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from tests.api.conftest import SignedIn, assert_problem, audit_rows, fetch_one, unique
from tests.conftest import create_vps


def _offline_vps(db: psycopg.Connection[DictRow]) -> int:
    return int(
        fetch_one(
            db,
            "INSERT INTO vps (name, agent_key_id, agent_token_hash) VALUES (%s, %s, 'x') RETURNING id",
            (unique("cmd"), unique("k")),
        )["id"]
    )


async def test_queue_list_page_filter_and_cancel_before_dispatch(
    client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow], operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = _offline_vps(db)
    ids = []
    for i in range(3):
        response = await client.post(
            f"/api/vps/{vps_id}/commands",
            json={"kind": "shell", "command": f"echo {i}", "queue_for_s": 600},
            headers=operator.headers,
        )
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/api/commands/{response.json()['id']}"
        ids.append(response.json()["id"])
    first = await client.get(f"/api/vps/{vps_id}/commands", params={"limit": 2}, headers=viewer.headers)
    assert [c["id"] for c in first.json()] == ids[::-1][:2]
    rest = await client.get(
        f"/api/vps/{vps_id}/commands", params={"limit": 2, "before": ids[1]}, headers=viewer.headers
    )
    assert [c["id"] for c in rest.json()] == [ids[0]]
    cancel = await client.post(f"/api/commands/{ids[0]}/cancel", headers=operator.headers)
    assert cancel.status_code == 202
    assert cancel.json()["status"] == "cancelled" and operator.username in cancel.json()["error_message"]
    cancelled = await client.get(
        f"/api/vps/{vps_id}/commands", params={"status": "cancelled"}, headers=viewer.headers
    )
    assert [c["id"] for c in cancelled.json()] == [ids[0]]
    assert_problem(await client.post(f"/api/commands/{ids[0]}/cancel", headers=operator.headers), 409)
    assert_problem(await client.post(f"/api/commands/{ids[1]}/cancel", headers=viewer.headers), 403)
    actions = [row["action"] for row in audit_rows(db, f"vps:{vps_id}")]
    assert actions == ["command.create"] * 3 + ["command.cancel"]


async def test_unknown_ids_and_bad_filters(client: AsyncTestClient[Litestar], viewer: SignedIn) -> None:
    assert_problem(
        await client.get(f"/api/commands/{uuid.uuid4()}", headers=viewer.headers), 404, "command_id"
    )
    assert_problem(await client.get("/api/commands/not-a-uuid", headers=viewer.headers), 404, "command_id")
    assert_problem(await client.get("/api/vps/999999/containers", headers=viewer.headers), 404, "vps_id")
    assert_problem(
        await client.get("/api/vps/1/commands", params={"status": "bogus"}, headers=viewer.headers),
        422,
        "status",
    )


async def test_agent_state_of_a_vps_that_never_connected(
    client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow], viewer: SignedIn, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    state = (await client.get(f"/api/vps/{vps.id}/agent", headers=viewer.headers)).json()
    assert state["connected"] is False and state["allowed_kinds"] == ["ping"]
    assert state["heartbeat_at"] is None


async def test_socket_of_an_ended_command_sends_stored_output_then_end(
    client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow], operator: SignedIn, viewer: SignedIn
) -> None:
    vps_id = _offline_vps(db)
    created = await client.post(
        f"/api/vps/{vps_id}/commands",
        json={"kind": "ping", "host": "127.0.0.1", "queue_for_s": 60},
        headers=operator.headers,
    )
    command_id = created.json()["id"]
    db.execute(
        "UPDATE commands SET status = 'succeeded', exit_code = 0, finished_at = now(), stdout = 'ab' WHERE id = %s",
        (command_id,),
    )
    db.execute(
        "INSERT INTO command_output (command_id, seq, stdout) VALUES (%s, 3, 'a'), (%s, 5, 'b')",
        (command_id, command_id),
    )
    ws = await client.websocket_connect(f"/api/commands/{command_id}/stream", params={"token": viewer.token})
    with ws:
        messages = [ws.receive_json(timeout=10) for _ in range(3)]
    assert [(m["type"], m.get("seq")) for m in messages] == [("output", 3), ("output", 5), ("end", None)]
    assert messages[-1]["command"]["status"] == "succeeded"


async def test_openapi_describes_the_command_union(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/vps/{vps_id}/commands" in schema["paths"]
    assert "/api/commands/{command_id}/cancel" in schema["paths"]
    text = str(schema["components"]["schemas"])
    for kind in ("DockerActionCommand", "DockerLogsCommand", "ShellCommand", "ScriptCommand", "PingCommand"):
        assert kind in text


def test_the_reader_role_sees_states_but_not_arguments_or_output(db: psycopg.Connection[DictRow]) -> None:
    def can(table: str, column: str) -> bool:
        row = fetch_one(
            db, "SELECT has_column_privilege('tidewatch_reader', %s, %s, 'SELECT') AS ok", (table, column)
        )
        return bool(row["ok"])

    for column in ("id", "vps_id", "kind", "status", "exit_code", "error_message", "finished_at"):
        assert can("commands", column), column
    for column in ("args", "request", "stdout", "stderr"):
        assert not can("commands", column), column
    assert not can("command_output", "stdout")
    assert can("vps_agent_state", "docker_sample_overruns_total")


def test_list_filters_state_exactly_the_known_statuses_and_kinds() -> None:
    from typing import get_args

    from api.commands.controller import _STATUSES, KindFilter, StatusFilter
    from common.api_models.commands import COMMAND_KINDS

    assert set(get_args(StatusFilter)) == set(_STATUSES)
    assert set(get_args(KindFilter)) == {*COMMAND_KINDS, "cancel"}
