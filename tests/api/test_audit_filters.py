"""``GET /api/audit`` filtered by user, VPS and action, paged, against the real database."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from common.api_models import Role
from tests.api.conftest import SignedIn, assert_problem, sign_in, unique

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


async def audit(client: Client, admin: SignedIn, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/audit", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_filters_by_user_vps_and_action_combine_and_page(
    client: Client, db: Db, admin: SignedIn
) -> None:
    first = await sign_in(client, db, Role.OPERATOR)
    second = await sign_in(client, db, Role.OPERATOR)
    vps_ids = []
    for who in (first, second):
        created = await client.post("/api/vps", json={"name": unique("audited")}, headers=who.headers)
        assert created.status_code == 201, created.text
        vps_ids.append(created.json()["vps"]["id"])
    for _ in range(3):
        response = await client.patch(
            f"/api/vps/{vps_ids[0]}", json={"labels": {"turn": unique("t")}}, headers=second.headers
        )
        assert response.status_code == 200, response.text

    by_first = await audit(client, admin, user_id=first.id)
    assert {r["action"] for r in by_first} == {"auth.login", "vps.create"}
    assert all(r["user_id"] == first.id for r in by_first)

    on_vps = await audit(client, admin, vps_id=vps_ids[0])
    assert [r["action"] for r in on_vps] == ["vps.update"] * 3 + ["vps.create"]
    assert {r["target"] for r in on_vps} == {f"vps:{vps_ids[0]}"}

    updates_by_second = await audit(client, admin, user_id=second.id, action="vps.update")
    assert len(updates_by_second) == 3 and {r["target"] for r in updates_by_second} == {f"vps:{vps_ids[0]}"}
    assert await audit(client, admin, user_id=first.id, action="vps.update") == []

    page_one = await audit(client, admin, vps_id=vps_ids[0], limit=2)
    page_two = await audit(client, admin, vps_id=vps_ids[0], limit=2, before_id=page_one[-1]["id"])
    assert [r["id"] for r in page_one + page_two] == [r["id"] for r in on_vps]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "vps.explode"}, "action"),
        ({"action": ""}, "action"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": "01"}, "user_id"),
        ({"vps_id": "1e2"}, "vps_id"),
        ({"vps_id": -1}, "vps_id"),
    ],
)
async def test_bad_filters_are_problems_naming_the_parameter(
    client: Client, admin: SignedIn, params: dict[str, Any], field: str
) -> None:
    assert_problem(await client.get("/api/audit", params=params, headers=admin.headers), 422, field)


async def test_only_admins_read_the_audit_log_even_filtered(client: Client, operator: SignedIn) -> None:
    assert_problem(
        await client.get("/api/audit", params={"user_id": operator.id}, headers=operator.headers), 403
    )
