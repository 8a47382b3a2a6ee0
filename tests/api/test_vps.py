"""VPS records: create with a one-time agent token, list with newest metrics,
change, rotate and delete, each audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from common.tokens import AGENT_TOKEN_PREFIX, parse_token, verify_token
from tests.api.conftest import SignedIn, assert_problem, audit_rows, fetch_one, insert_host_metrics, unique

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


async def _create(client: Client, who: SignedIn, **body: object) -> dict[str, Any]:
    response = await client.post("/api/vps", json={"name": unique("vps"), **body}, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_returns_the_agent_token_once(client: Client, db: Db, operator: SignedIn) -> None:
    created = await _create(client, operator, ip_address="203.0.113.7", labels={"env": "prod"})
    vps, token = created["vps"], str(created["agent_token"])
    assert isinstance(vps, dict)
    assert vps["ip_address"] == "203.0.113.7" and vps["labels"] == {"env": "prod"}
    assert vps["online"] is False and vps["latest"] is None
    assert str(created["install_command"]).endswith(f"/agent/install.sh | sudo bash -s -- --token {token}")

    row = db.execute("SELECT * FROM vps WHERE id = %s", (vps["id"],)).fetchone()
    assert row is not None and row["created_by"] == operator.id
    assert parse_token(token, AGENT_TOKEN_PREFIX) == row["agent_key_id"]
    assert token not in row["agent_token_hash"] and verify_token(row["agent_token_hash"], token)

    listed = await client.get("/api/vps", headers=operator.headers)
    single = await client.get(f"/api/vps/{vps['id']}", headers=operator.headers)
    for response in (listed, single):
        assert response.status_code == 200 and "twa_" not in response.text
    [audit] = audit_rows(db, f"vps:{vps['id']}")
    assert audit["action"] == "vps.create" and audit["user_id"] == operator.id
    assert audit["detail"]["name"] == vps["name"]


async def test_names_are_unique_and_inputs_checked(client: Client, operator: SignedIn) -> None:
    created = await _create(client, operator)
    name = created["vps"]["name"]
    duplicate = await client.post("/api/vps", json={"name": name}, headers=operator.headers)
    assert_problem(duplicate, 409, "name")
    for body, field in [
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": unique("v"), "ip_address": "not an ip!"}, "ip_address"),
        ({"name": unique("v"), "ip_address": "-bad-.example"}, "ip_address"),
        ({"name": unique("v"), "labels": {"bad key!": "x"}}, "labels"),
        ({"name": unique("v"), "surprise": 1}, "surprise"),
        ({"ip_address": "192.0.2.1"}, "name"),
    ]:
        assert_problem(await client.post("/api/vps", json=body, headers=operator.headers), 422, field)
    ok = await client.post(
        "/api/vps", json={"name": unique("v"), "ip_address": "web-1.example.com"}, headers=operator.headers
    )
    assert ok.status_code == 201
    v6 = await client.post(
        "/api/vps", json={"name": unique("v"), "ip_address": "2001:db8::1"}, headers=operator.headers
    )
    assert v6.status_code == 201


async def test_sql_looking_names_are_stored_literally(client: Client, db: Db, operator: SignedIn) -> None:
    name = f"x'); DROP TABLE vps; -- {unique('inj')}"
    created = await _create(client, operator, name=name)
    assert created["vps"]["name"] == name
    assert db.execute("SELECT count(*) AS n FROM vps WHERE name = %s", (name,)).fetchone() == {"n": 1}


async def test_list_shows_status_and_newest_metrics(client: Client, db: Db, viewer: SignedIn) -> None:
    vps_id = fetch_one(
        db,
        "INSERT INTO vps (name, agent_key_id, agent_token_hash, hostname, os_name, online, last_seen,"
        " sanitised_fields) VALUES (%s, %s, 'x', 'web-01', 'Debian GNU/Linux', true, now(), '{mount_point}')"
        " RETURNING id",
        (unique("listed"), unique("k")),
    )["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    insert_host_metrics(db, vps_id, now - timedelta(minutes=5), now, timedelta(seconds=10))
    newest = now - timedelta(seconds=10)
    for device, mount, used, total in [("/dev/vda1", "/", 10, 100), ("/dev/vda1", "/srv/bind", 10, 100),
                                       ("/dev/vdb", "/data", 5, 50)]:  # fmt: skip
        db.execute(
            "INSERT INTO disk_metrics VALUES (%s, %s, %s, %s, 'ext4', %s, %s, 0, 0, 0)",
            (newest, vps_id, mount, device, total, used),
        )
    for interface, rx, tx in [("eth0", 1000.0, 200.0), ("eth1", 24.0, 6.0)]:
        db.execute(
            "INSERT INTO network_metrics VALUES (%s, %s, %s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0)",
            (newest, vps_id, interface, rx, tx),
        )
    response = await client.get("/api/vps", headers=viewer.headers)
    [vps] = [v for v in response.json() if v["id"] == vps_id]
    assert vps["online"] is True and vps["hostname"] == "web-01" and vps["os_name"] == "Debian GNU/Linux"
    assert vps["sanitised_fields"] == ["mount_point"]  # facts the agent had to escape
    latest = vps["latest"]
    assert datetime.fromisoformat(latest["time"]) == newest
    assert latest["cpu_percent"] == newest.minute and latest["memory_total_bytes"] == 8589934592
    # The bind mount of /dev/vda1 counts once.
    assert (latest["disk_used_bytes"], latest["disk_total_bytes"]) == (15, 150)
    assert (latest["net_rx_bytes_per_second"], latest["net_tx_bytes_per_second"]) == (1024.0, 206.0)
    single = await client.get(f"/api/vps/{vps_id}", headers=viewer.headers)
    assert single.json() == vps


async def test_patch_changes_only_what_is_given(client: Client, db: Db, operator: SignedIn) -> None:
    created = await _create(client, operator, ip_address="192.0.2.1", labels={"a": "1"})
    vps_id = created["vps"]["id"]
    url = f"/api/vps/{vps_id}"
    renamed = unique("renamed")
    response = await client.patch(url, json={"name": renamed}, headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == renamed and response.json()["ip_address"] == "192.0.2.1"
    response = await client.patch(
        url,
        json={"labels": {"b": "2"}, "traffic_quota_bytes": 10**12, "traffic_reset_day": 15},
        headers=operator.headers,
    )
    assert response.json()["labels"] == {"b": "2"} and response.json()["traffic_quota_bytes"] == 10**12
    response = await client.patch(url, json={"traffic_quota_bytes": None}, headers=operator.headers)
    assert response.json()["traffic_quota_bytes"] is None and response.json()["traffic_reset_day"] == 15
    assert_problem(
        await client.patch(url, json={"traffic_reset_day": 31}, headers=operator.headers),
        422,
        "traffic_reset_day",
    )
    assert_problem(
        await client.patch(url, json={"agent_token_hash": "x"}, headers=operator.headers),
        422,
        "agent_token_hash",
    )
    other = await _create(client, operator)
    taken = {"name": other["vps"]["name"]}
    assert_problem(await client.patch(url, json=taken, headers=operator.headers), 409, "name")
    assert_problem(
        await client.patch("/api/vps/987654321", json={"name": unique("n")}, headers=operator.headers), 404
    )
    updates = [r for r in audit_rows(db, f"vps:{vps_id}") if r["action"] == "vps.update"]
    assert [u["detail"] for u in updates] == [
        {"name": renamed},
        {"labels": {"b": "2"}, "traffic_quota_bytes": 10**12, "traffic_reset_day": 15},
        {"traffic_quota_bytes": None},
    ]


async def test_rotate_replaces_the_token_and_notifies_the_collector(
    client: Client, db: Db, db_dsn: str, operator: SignedIn
) -> None:
    created = await _create(client, operator)
    vps_id, old_token = created["vps"]["id"], str(created["agent_token"])
    with psycopg.connect(db_dsn, autocommit=True) as listener:
        listener.execute("LISTEN tidewatch_token_rotated")
        response = await client.post(f"/api/vps/{vps_id}/rotate-token", headers=operator.headers)
        assert response.status_code == 201, response.text
        notices = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.payload for n in notices] == [str(vps_id)]
    body = response.json()
    row = db.execute("SELECT * FROM vps WHERE id = %s", (vps_id,)).fetchone()
    assert row is not None and parse_token(body["agent_token"], AGENT_TOKEN_PREFIX) == row["agent_key_id"]
    assert verify_token(row["agent_token_hash"], body["agent_token"])
    assert not verify_token(row["agent_token_hash"], old_token)
    assert datetime.fromisoformat(body["token_rotated_at"]) == row["token_rotated_at"]
    assert row["token_rotated_at"] > datetime.fromisoformat(created["vps"]["token_rotated_at"])
    assert [r["action"] for r in audit_rows(db, f"vps:{vps_id}")] == ["vps.create", "vps.rotate_token"]
    assert_problem(await client.post("/api/vps/987654321/rotate-token", headers=operator.headers), 404)


async def test_delete_removes_the_vps(client: Client, db: Db, operator: SignedIn, viewer: SignedIn) -> None:
    created = await _create(client, operator)
    vps_id = created["vps"]["id"]
    assert_problem(await client.delete(f"/api/vps/{vps_id}", headers=viewer.headers), 403)
    assert (await client.delete(f"/api/vps/{vps_id}", headers=operator.headers)).status_code == 204
    assert_problem(await client.get(f"/api/vps/{vps_id}", headers=operator.headers), 404)
    assert_problem(await client.delete(f"/api/vps/{vps_id}", headers=operator.headers), 404)
    assert [r["action"] for r in audit_rows(db, f"vps:{vps_id}")] == ["vps.create", "vps.delete"]


async def test_bad_ids_are_precise_problems(client: Client, viewer: SignedIn) -> None:
    assert_problem(await client.get("/api/vps/0", headers=viewer.headers), 422, "vps_id")
    assert_problem(await client.get(f"/api/vps/{2**63}", headers=viewer.headers), 422, "vps_id")
    assert_problem(await client.get("/api/vps/1;DROP TABLE vps", headers=viewer.headers), 404)
    assert_problem(await client.get("/api/vps/abc", headers=viewer.headers), 404)
