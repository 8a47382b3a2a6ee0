"""Issue 10: inputs that used to be a 500 or were read too leniently, through the real app."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from tests.api.conftest import SignedIn, assert_problem, fetch_one, unique

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


async def _vps(client: Client, operator: SignedIn) -> dict[str, Any]:
    response = await client.post("/api/vps", json={"name": unique("hard")}, headers=operator.headers)
    assert response.status_code == 201, response.text
    vps: dict[str, Any] = response.json()["vps"]
    return vps


async def test_patch_user_with_an_empty_body_is_422_not_500(client: Client, admin: SignedIn) -> None:
    response = await client.patch(f"/api/users/{admin.id}", json={}, headers=admin.headers)
    assert "at least one" in assert_problem(response, 422, "body")["detail"]


@pytest.mark.parametrize("username", ["\u0000", "adm\u0000in", "\u202eevil", "a\u200bb", "x\n"])
async def test_login_with_control_characters_is_422_not_500(client: Client, username: str) -> None:
    response = await client.post("/api/auth/login", json={"username": username, "password": "x"})
    body = assert_problem(response, 422, "username")
    assert "invisible" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": {"env": "pro\u0000d"}}, "labels"),
        ({"labels": {"env": "\u202egnp.exe"}}, "labels"),
        ({"name": "web\u202e10"}, "name"),
        ({"name": "web\u200d"}, "name"),
        ({"name": "web\u2028"}, "name"),
        ({"name": "web\ufeff"}, "name"),
        ({"name": "web\U000e0041"}, "name"),
        ({"name": "web\n"}, "name"),
        ({"name": "web\u0085"}, "name"),
    ],
)
async def test_names_and_labels_refuse_invisible_and_control_characters(
    client: Client, db: Db, operator: SignedIn, body: dict[str, Any], field: str
) -> None:
    vps = await _vps(client, operator)
    patched = await client.patch(f"/api/vps/{vps['id']}", json=body, headers=operator.headers)
    assert_problem(patched, 422, field)
    created = await client.post("/api/vps", json={"name": "ok", **body}, headers=operator.headers)
    assert_problem(created, 422, field)
    row = fetch_one(db, "SELECT name, labels FROM vps WHERE id = %s", (vps["id"],))
    assert (row["name"], row["labels"]) == (vps["name"], {})


async def test_visible_unicode_is_still_welcome(client: Client, operator: SignedIn) -> None:
    name = unique("café-東京-😀")
    response = await client.post(
        "/api/vps", json={"name": name, "labels": {"city": "Zürich"}}, headers=operator.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["vps"]["name"] == name


async def test_metrics_to_in_the_far_past_is_422_not_500(
    client: Client, viewer: SignedIn, operator: SignedIn
) -> None:
    vps = await _vps(client, operator)
    response = await client.get(
        f"/api/vps/{vps['id']}/metrics/host", params={"to": "0001-01-01T00:00:00Z"}, headers=viewer.headers
    )
    assert_problem(response, 422, "to")


@pytest.mark.parametrize(
    "value",
    [
        "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",
        "\uff11\uff17\uff10\uff10",
    ],
)
async def test_epoch_values_in_unicode_digits_are_refused(
    client: Client, viewer: SignedIn, operator: SignedIn, value: str
) -> None:
    vps = await _vps(client, operator)
    response = await client.get(
        f"/api/vps/{vps['id']}/metrics/host", params={"from": value}, headers=viewer.headers
    )
    assert_problem(response, 422, "from")


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_a_problem_not_500(
    client: Client, operator: SignedIn, depth: int
) -> None:
    headers = {**operator.headers, "content-type": "application/json"}
    for path, method in [("/api/vps", "POST"), ("/api/auth/login", "POST")]:
        for content in ("[" * depth + "]" * depth, '{"name":' + "[" * depth + "]" * depth + "}"):
            response = await client.request(method, path, content=content.encode(), headers=headers)
            assert response.status_code in (400, 422), response.text
            assert_problem(response, response.status_code)
    vps = await _vps(client, operator)
    nested = '{"labels":{"a":' + "[" * depth + "]" * depth + "}}"
    response = await client.patch(f"/api/vps/{vps['id']}", content=nested.encode(), headers=headers)
    assert assert_problem(response, 400)["type"].endswith("/malformed-json")


async def test_invalid_utf8_bodies_are_400_not_500(client: Client, operator: SignedIn) -> None:
    headers = {**operator.headers, "content-type": "application/json"}
    for path, key in [
        ("/api/vps", b"name"),
        ("/api/auth/login", b"username"),
        ("/api/auth/register", b"username"),
    ]:
        response = await client.post(path, content=b'{"' + key + b'":"\xff\xfe"}', headers=headers)
        body = assert_problem(response, 400)
        assert body["type"].endswith("/malformed-json") and "UTF-8" in body["detail"]


@pytest.mark.parametrize(
    "raw_id",
    [
        "%D9%A8%D9%A0",
        "%EF%BC%98%EF%BC%90",
        "8_0",
        "+80",
        "%2080",
        "80%0A",
        "080",
        "80.0",
        "9223372036854775808",
        "-1",
    ],
)
async def test_path_ids_are_plain_decimal_only(client: Client, operator: SignedIn, raw_id: str) -> None:
    vps = await _vps(client, operator)
    # The id of every lenient spelling is the VPS's own id wherever the spelling has its digits.
    spelled = raw_id.replace("80", str(vps["id"])) if "80" in raw_id else raw_id
    response = await client.get(f"/api/vps/{spelled}", headers=operator.headers)
    assert response.status_code in (404, 422), response.text
    assert_problem(response, response.status_code)


async def test_lenient_path_ids_never_reach_a_row(client: Client, db: Db, admin: SignedIn) -> None:
    target = fetch_one(
        db,
        "INSERT INTO users (username, password_hash, role) VALUES (%s, 'x', 'viewer') RETURNING id",
        (unique("t"),),
    )["id"]
    arabic = "".join(chr(0x0660 + int(d)) for d in str(target))
    full_width = "".join(chr(0xFF10 + int(d)) for d in str(target))
    for spelled in (
        arabic,
        full_width,
        f"+{target}",
        f"0{target}",
        f" {target}",
        f"{target}%0A",
        f"{str(target)[0]}_{str(target)[1:]}" if target >= 10 else f"{target}_",
    ):
        response = await client.patch(f"/api/users/{spelled}", json={"disabled": True}, headers=admin.headers)
        assert response.status_code in (404, 422), (spelled, response.text)
        assert fetch_one(db, "SELECT disabled FROM users WHERE id = %s", (target,))["disabled"] is False
    canonical = await client.patch(f"/api/users/{target}", json={"disabled": True}, headers=admin.headers)
    assert canonical.status_code == 200


@pytest.mark.parametrize("limit", ["1e2", "\u0665", "+5", "05", " 5", "5.0"])
async def test_integer_query_parameters_are_plain_decimal_only(
    client: Client, admin: SignedIn, limit: str
) -> None:
    response = await client.get("/api/audit", params={"limit": limit}, headers=admin.headers)
    assert_problem(response, 422, "limit")
    assert (await client.get("/api/audit", params={"limit": "5"}, headers=admin.headers)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"traffic_quota_bytes": "1"}, "traffic_quota_bytes"),
        ({"traffic_reset_day": "2"}, "traffic_reset_day"),
        ({"traffic_quota_bytes": 1.5}, "traffic_quota_bytes"),
        ({"labels": {"env": 1}}, "labels"),
    ],
)
async def test_bodies_are_typed_strictly(
    client: Client, operator: SignedIn, body: dict[str, Any], field: str
) -> None:
    vps = await _vps(client, operator)
    response = await client.patch(f"/api/vps/{vps['id']}", json=body, headers=operator.headers)
    assert_problem(response, 422, field)
    ok = await client.patch(
        f"/api/vps/{vps['id']}", json={"traffic_quota_bytes": 1}, headers=operator.headers
    )
    assert ok.status_code == 200 and ok.json()["traffic_quota_bytes"] == 1


async def test_users_disabled_flag_must_be_a_boolean(client: Client, admin: SignedIn, db: Db) -> None:
    target = fetch_one(
        db,
        "INSERT INTO users (username, password_hash, role) VALUES (%s, 'x', 'viewer') RETURNING id",
        (unique("b"),),
    )["id"]
    response = await client.patch(f"/api/users/{target}", json={"disabled": "true"}, headers=admin.headers)
    assert_problem(response, 422, "disabled")


async def test_an_admin_cannot_delete_their_own_account(client: Client, db: Db, admin: SignedIn) -> None:
    # Was a 500: the audit row's actor no longer existed.
    response = await client.delete(f"/api/users/{admin.id}", headers=admin.headers)
    assert "own account" in assert_problem(response, 409)["detail"]
    assert fetch_one(db, "SELECT count(*) AS n FROM users WHERE id = %s", (admin.id,))["n"] == 1


async def test_user_listings_never_show_password_hashes(client: Client, admin: SignedIn) -> None:
    response = await client.get("/api/users", headers=admin.headers)
    assert response.status_code == 200 and response.json()
    assert "$argon2" not in response.text and "password" not in response.text
