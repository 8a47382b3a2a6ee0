"""Registration, login, sessions, expiry and roles, against the real database."""

from __future__ import annotations

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from common.api_models import Role
from common.settings import ApiSettings
from common.tokens import API_TOKEN_PREFIX, parse_token, verify_token
from tests.api.conftest import (
    PASSWORD,
    SignedIn,
    assert_problem,
    audit_rows,
    create_user,
    fetch_one,
    sign_in,
    unique,
)

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
Db = psycopg.Connection[DictRow]


async def test_register_creates_a_viewer_and_audits_it(client: Client, db: Db) -> None:
    username = unique("newcomer")
    response = await client.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code == 202, response.text
    assert response.json()["username"] == username and PASSWORD not in response.text
    user = fetch_one(db, "SELECT id, role FROM users WHERE username = %s", (username,))
    assert user["role"] == "viewer"
    [row] = audit_rows(db, f"user:{user['id']}")
    assert (row["action"], row["actor"], row["user_id"]) == ("auth.register", username, user["id"])
    assert row["client_ip"] == "testclient"
    login = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["role"] == "viewer"


async def test_anonymous_registration_does_not_reveal_taken_names(
    client: Client, db: Db, admin: SignedIn
) -> None:
    _, taken = create_user(db, Role.OPERATOR)
    before = fetch_one(db, "SELECT password_hash, role FROM users WHERE username = %s", (taken,))
    free = unique("free")
    on_taken = await client.post("/api/auth/register", json={"username": taken, "password": PASSWORD + "!"})
    on_free = await client.post("/api/auth/register", json={"username": free, "password": PASSWORD})
    assert on_taken.status_code == on_free.status_code == 202
    assert on_taken.json()["detail"] == on_free.json()["detail"]
    assert set(on_taken.json()) == set(on_free.json()) == {"username", "detail"}
    # The existing account is untouched; admins still get the clear answer.
    after = fetch_one(db, "SELECT password_hash, role FROM users WHERE username = %s", (taken,))
    assert after == before
    by_admin = await client.post(
        "/api/users", json={"username": taken, "password": PASSWORD}, headers=admin.headers
    )
    assert "taken" in assert_problem(by_admin, 409, "username")["detail"]


async def test_register_refuses_bad_input(client: Client) -> None:
    response = await client.post("/api/auth/register", json={"username": "no spaces!", "password": PASSWORD})
    assert_problem(response, 422, "username")
    response = await client.post("/api/auth/register", json={"username": unique("u"), "password": "short"})
    assert_problem(response, 422, "password")
    response = await client.post("/api/auth/register", json={"username": unique("u")})
    assert_problem(response, 422, "password")
    response = await client.post("/api/auth/register", json={"username": "alice\n", "password": PASSWORD})
    assert_problem(response, 422, "username")


async def test_register_is_closed_when_disabled(db_dsn: str) -> None:
    app = create_app(ApiSettings(allow_registration=False), db_dsn)
    async with AsyncTestClient(app=app) as closed:
        response = await closed.post(
            "/api/auth/register", json={"username": unique("u"), "password": PASSWORD}
        )
    assert_problem(response, 403)


async def test_login_returns_a_stored_hashed_session_token(client: Client, db: Db) -> None:
    user_id, username = create_user(db, Role.OPERATOR)
    response = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "operator"
    key_id = parse_token(body["token"], API_TOKEN_PREFIX)
    row = db.execute("SELECT * FROM api_tokens WHERE key_id = %s", (key_id,)).fetchone()
    assert row is not None and row["user_id"] == user_id
    assert body["token"] not in row["token_hash"] and verify_token(row["token_hash"], body["token"])
    assert row["expires_at"] is not None
    assert [r["action"] for r in audit_rows(db, f"user:{user_id}")] == ["auth.login"]


async def test_wrong_password_and_unknown_user_get_the_same_401(client: Client, db: Db) -> None:
    user_id, username = create_user(db, Role.VIEWER)
    wrong = await client.post("/api/auth/login", json={"username": username, "password": "not it at all"})
    unknown = await client.post("/api/auth/login", json={"username": unique("ghost"), "password": PASSWORD})
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
    [row] = audit_rows(db, f"user:{user_id}")
    assert row["action"] == "auth.login_failed" and row["detail"] == {"reason": "bad credentials"}


async def test_me_and_logout_revoke_the_token(client: Client, db: Db, viewer: SignedIn) -> None:
    me = await client.get("/api/auth/me", headers=viewer.headers)
    assert me.status_code == 200 and me.json()["username"] == viewer.username
    assert (await client.post("/api/auth/logout", headers=viewer.headers)).status_code == 204
    assert_problem(await client.get("/api/auth/me", headers=viewer.headers), 401)
    assert [r["action"] for r in audit_rows(db, f"user:{viewer.id}")] == ["auth.login", "auth.logout"]


async def test_missing_malformed_and_expired_tokens_are_401(client: Client, db: Db, viewer: SignedIn) -> None:
    missing = assert_problem(await client.get("/api/vps"), 401)
    assert "Bearer" in missing["detail"]
    assert (await client.get("/api/vps")).headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.get("/api/vps", headers={"Authorization": "Bearer nonsense"}), 401)
    forged = "twu_" + viewer.token[4:20] + "." + "A" * 43
    assert_problem(await client.get("/api/vps", headers={"Authorization": f"Bearer {forged}"}), 401)

    key_id = parse_token(viewer.token, API_TOKEN_PREFIX)
    db.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE key_id = %s", (key_id,))
    body = assert_problem(await client.get("/api/auth/me", headers=viewer.headers), 401)
    assert "expired" in body["detail"]


async def test_roles_gate_writes_and_user_management(
    client: Client, viewer: SignedIn, operator: SignedIn, admin: SignedIn
) -> None:
    body = {"name": unique("gate"), "ip_address": "192.0.2.10"}
    forbidden = assert_problem(await client.post("/api/vps", json=body, headers=viewer.headers), 403)
    assert "operator" in forbidden["detail"]
    assert (await client.get("/api/vps", headers=viewer.headers)).status_code == 200
    assert (await client.post("/api/vps", json=body, headers=operator.headers)).status_code == 201
    assert_problem(await client.get("/api/users", headers=operator.headers), 403)
    assert_problem(await client.get("/api/audit", headers=operator.headers), 403)
    assert (await client.get("/api/users", headers=admin.headers)).status_code == 200


async def test_disabling_a_user_cuts_off_their_cached_session(
    client: Client, db: Db, admin: SignedIn
) -> None:
    victim = await sign_in(client, db, Role.OPERATOR)
    assert (await client.get("/api/vps", headers=victim.headers)).status_code == 200  # now cached
    response = await client.patch(f"/api/users/{victim.id}", json={"disabled": True}, headers=admin.headers)
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert_problem(await client.get("/api/vps", headers=victim.headers), 401)
    relogin = await client.post("/api/auth/login", json={"username": victim.username, "password": PASSWORD})
    assert "disabled" in assert_problem(relogin, 401)["detail"]


async def test_role_change_applies_at_once(client: Client, db: Db, admin: SignedIn) -> None:
    user = await sign_in(client, db, Role.VIEWER)
    body = {"name": unique("promo")}
    assert_problem(await client.post("/api/vps", json=body, headers=user.headers), 403)
    await client.patch(f"/api/users/{user.id}", json={"role": "operator"}, headers=admin.headers)
    assert (await client.post("/api/vps", json=body, headers=user.headers)).status_code == 201


async def test_admins_manage_users_but_never_remove_the_last_admin(
    client: Client, db: Db, admin: SignedIn
) -> None:
    name = unique("made")
    created = await client.post(
        "/api/users", json={"username": name, "password": PASSWORD, "role": "operator"}, headers=admin.headers
    )
    assert created.status_code == 201 and created.json()["role"] == "operator"
    user_id = created.json()["id"]
    assert_problem(
        await client.patch("/api/users/999999999", json={"role": "viewer"}, headers=admin.headers), 404
    )
    assert_problem(
        await client.patch(f"/api/users/{user_id}", json={"role": "root"}, headers=admin.headers), 422, "role"
    )
    assert (await client.delete(f"/api/users/{user_id}", headers=admin.headers)).status_code == 204
    actions = [r["action"] for r in audit_rows(db, f"user:{user_id}")]
    assert actions == ["user.create", "user.delete"]

    # Only the last enabled admin is protected; demote every other admin first.
    demoted = db.execute(
        "UPDATE users SET role = 'viewer' WHERE role = 'admin' AND id <> %s RETURNING id", (admin.id,)
    ).fetchall()
    try:
        demote = await client.patch(f"/api/users/{admin.id}", json={"role": "viewer"}, headers=admin.headers)
        assert_problem(demote, 409)
        assert_problem(await client.delete(f"/api/users/{admin.id}", headers=admin.headers), 409)
    finally:
        db.execute("UPDATE users SET role = 'admin' WHERE id = ANY(%s)", ([r["id"] for r in demoted],))


async def test_audit_log_lists_newest_first(client: Client, admin: SignedIn) -> None:
    response = await client.get("/api/audit", params={"limit": 5}, headers=admin.headers)
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()]
    assert ids == sorted(ids, reverse=True) and len(ids) <= 5
    assert_problem(await client.get("/api/audit", params={"limit": 0}, headers=admin.headers), 422, "limit")
