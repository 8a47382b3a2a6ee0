"""Personal API tokens through the real API and database: create (secret once), use,
list, revoke (own, or anyone's as admin), strict inputs, the cap, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from common.api_models import Role
from common.api_models.tokens import MAX_PERSONAL_TOKENS
from common.tokens import API_TOKEN_PREFIX, parse_token
from tests.api.conftest import PASSWORD, SignedIn, assert_problem, audit_rows, fetch_one, sign_in, unique

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create(client: Client, owner: SignedIn, name: str, days: int = 30) -> dict[str, Any]:
    response = await client.post(
        "/api/tokens", json={"name": name, "expires_in_days": days}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_token_is_shown_once_works_like_a_session_and_is_listed_without_its_secret(
    client: Client, db: Db, viewer: SignedIn
) -> None:
    before = datetime.now(UTC)
    made = await create(client, viewer, "backup script", days=7)
    assert parse_token(made["token"], API_TOKEN_PREFIX) is not None
    assert (made["name"], made["user_id"], made["username"]) == ("backup script", viewer.id, viewer.username)
    expires = datetime.fromisoformat(made["expires_at"])
    assert before + timedelta(days=7) - timedelta(minutes=5) < expires < before + timedelta(days=7, minutes=5)
    stored = fetch_one(db, "SELECT * FROM api_tokens WHERE id = %s", (made["id"],))
    assert stored["kind"] == "personal" and made["token"] not in str(stored)

    me = await client.get("/api/auth/me", headers=bearer(made["token"]))
    assert me.status_code == 200 and me.json()["username"] == viewer.username
    listed = (await client.get("/api/tokens", headers=viewer.headers)).json()
    # The login session is not a personal token; the secret never comes back.
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0] and made["token"] not in str(listed)
    assert listed[0]["last_used_at"] is not None and listed[0]["created_at"]
    [row] = audit_rows(db, f"token:{made['id']}")
    assert (row["action"], row["user_id"], row["detail"]["name"]) == (
        "token.create",
        viewer.id,
        "backup script",
    )


async def test_revoking_stops_a_cached_token_at_once_and_is_audited(
    client: Client, db: Db, operator: SignedIn
) -> None:
    made = await create(client, operator, unique("ci"))
    assert (await client.get("/api/vps", headers=bearer(made["token"]))).status_code == 200  # now cached
    assert (await client.delete(f"/api/tokens/{made['id']}", headers=operator.headers)).status_code == 204
    assert_problem(await client.get("/api/vps", headers=bearer(made["token"])), 401)
    assert_problem(await client.delete(f"/api/tokens/{made['id']}", headers=operator.headers), 404)
    assert (await client.get("/api/tokens", headers=operator.headers)).json() == []
    assert [r["action"] for r in audit_rows(db, f"token:{made['id']}")] == ["token.create", "token.revoke"]
    # The session that revoked it still works.
    assert (await client.get("/api/auth/me", headers=operator.headers)).status_code == 200


async def test_users_see_and_revoke_only_their_own_while_admins_reach_everyones(
    client: Client, db: Db, viewer: SignedIn, admin: SignedIn
) -> None:
    other = await sign_in(client, db, Role.OPERATOR)
    mine = await create(client, viewer, unique("mine"))
    theirs = await create(client, other, unique("theirs"))

    assert [t["id"] for t in (await client.get("/api/tokens", headers=other.headers)).json()] == [
        theirs["id"]
    ]
    assert_problem(await client.delete(f"/api/tokens/{mine['id']}", headers=other.headers), 404)
    assert_problem(await client.get("/api/tokens/all", headers=other.headers), 403)
    # A login session is not a personal token, whoever asks.
    assert_problem(
        await client.delete(f"/api/tokens/{other_session_id(db, other)}", headers=admin.headers), 404
    )

    everyone = (await client.get("/api/tokens/all", headers=admin.headers)).json()
    assert {mine["id"], theirs["id"]} <= {t["id"] for t in everyone}
    only_viewer = await client.get("/api/tokens/all", params={"user_id": viewer.id}, headers=admin.headers)
    assert [t["id"] for t in only_viewer.json()] == [mine["id"]]
    assert only_viewer.json()[0]["username"] == viewer.username

    assert (await client.delete(f"/api/tokens/{mine['id']}", headers=admin.headers)).status_code == 204
    assert_problem(await client.get("/api/auth/me", headers=bearer(mine["token"])), 401)
    [revoked] = [r for r in audit_rows(db, f"token:{mine['id']}") if r["action"] == "token.revoke"]
    assert revoked["user_id"] == admin.id and revoked["detail"]["owner_id"] == viewer.id
    assert (await client.get("/api/auth/me", headers=bearer(theirs["token"]))).status_code == 200


def other_session_id(db: Db, user: SignedIn) -> int:
    key_id = parse_token(user.token, API_TOKEN_PREFIX)
    return int(fetch_one(db, "SELECT id FROM api_tokens WHERE key_id = %s", (key_id,))["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "evil\u202etxt"}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 366}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "30"}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": None}, "expires_in_days"),
        ({"name": "ok", "scope": "admin"}, "scope"),
        ({}, "name"),
    ],
)
async def test_bad_token_requests_are_problems_naming_the_field(
    client: Client, viewer: SignedIn, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/api/tokens", json=body, headers=viewer.headers), 422, field)
    assert (await client.get("/api/tokens", headers=viewer.headers)).json() == []


async def test_expired_tokens_stop_working_and_the_cap_counts_them_until_revoked(
    client: Client, db: Db, viewer: SignedIn
) -> None:
    made = await create(client, viewer, unique("short"), days=1)
    db.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = %s", (made["id"],))
    assert_problem(await client.get("/api/auth/me", headers=bearer(made["token"])), 401)

    for n in range(MAX_PERSONAL_TOKENS - 1):
        db.execute(
            "INSERT INTO api_tokens (user_id, key_id, token_hash, description, expires_at, kind)"
            " VALUES (%s, %s, 'x', %s, now() + interval '1 day', 'personal')",
            (viewer.id, unique("k")[:16], f"filler {n}"),
        )
    full = assert_problem(
        await client.post("/api/tokens", json={"name": "one more"}, headers=viewer.headers), 409
    )
    assert str(MAX_PERSONAL_TOKENS) in full["detail"]
    assert (await client.delete(f"/api/tokens/{made['id']}", headers=viewer.headers)).status_code == 204
    assert (
        await client.post("/api/tokens", json={"name": "one more"}, headers=viewer.headers)
    ).status_code == 201


async def test_a_password_reset_revokes_sessions_and_personal_tokens(
    client: Client, db: Db, admin: SignedIn
) -> None:
    user = await sign_in(client, db, Role.OPERATOR)
    made = await create(client, user, unique("tool"))
    assert (await client.get("/api/auth/me", headers=bearer(made["token"]))).status_code == 200  # cached
    new_password = "a brand new passphrase"
    reset = await client.patch(
        f"/api/users/{user.id}", json={"password": new_password}, headers=admin.headers
    )
    assert reset.status_code == 200, reset.text
    assert_problem(await client.get("/api/auth/me", headers=user.headers), 401)
    assert_problem(await client.get("/api/auth/me", headers=bearer(made["token"])), 401)
    old = await client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
    assert_problem(old, 401)
    new = await client.post("/api/auth/login", json={"username": user.username, "password": new_password})
    assert new.status_code == 200
    updates = [r for r in audit_rows(db, f"user:{user.id}") if r["action"] == "user.update"]
    assert updates[-1]["detail"] == {"password": "changed"} and updates[-1]["user_id"] == admin.id
