"""A revoking change on one API instance reaches the session caches of the others.

Instance A (the suite's app) makes the change; instance B had the token cached
and would serve it from memory for the cache's 30 s. Each test checks B held the
entry before the change and waits for B's listener to hear the hint (no sleeps),
so the outcome on B is the hint's doing, not the TTL's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from api.auth.change_hints import AuthChangeListener
from api.resources import Resources, get_resources
from common.admin import set_password
from common.api_models import Role
from common.channels import AUTH_CHANGE_CHANNEL
from common.settings import ApiSettings
from tests.api.conftest import SignedIn, roomy_hashing, sign_in

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
HEAR_WITHIN_S = 15.0  # a hint is delivered on commit; room for a busy machine


@pytest.fixture
async def instance_b(api_settings: ApiSettings, db_dsn: str) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(api_settings, db_dsn, hashing=roomy_hashing)) as second:
        await _listening(get_resources(second.app.state).auth_changes)
        yield second


async def _listening(listener: AuthChangeListener) -> None:
    deadline = time.monotonic() + HEAR_WITHIN_S
    while not listener.listening.is_set():
        assert time.monotonic() < deadline, "the auth change listener never connected"
        await asyncio.sleep(0.02)


async def _heard_more_than(listener: AuthChangeListener, before: int) -> None:
    deadline = time.monotonic() + HEAR_WITHIN_S
    while listener.heard <= before:
        assert time.monotonic() < deadline, "the auth change hint never arrived"
        await asyncio.sleep(0.02)


async def _heard_after(res: Resources, change: Awaitable[Any]) -> None:
    """Make ``change`` and wait until ``res``'s listener has heard its hint."""
    heard = res.auth_changes.heard
    await change
    await _heard_more_than(res.auth_changes, heard)


async def _expect(request: Awaitable[Any], status: int) -> None:
    response = await request
    assert response.status_code == status, response.text


async def _cached_on(instance: Client, user: SignedIn) -> Resources:
    """Use the token on ``instance`` once, so its cache holds it; return its resources."""
    response = await instance.get("/api/auth/me", headers=user.headers)
    assert response.status_code == 200, response.text
    res = get_resources(instance.app.state)
    assert res.sessions.get(user.token) is not None
    return res


async def test_logout_on_one_instance_is_refused_at_once_on_another(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow]
) -> None:
    viewer = await sign_in(client, db, Role.VIEWER)
    res_b = await _cached_on(instance_b, viewer)
    logout = client.post("/api/auth/logout", headers=viewer.headers)
    await _heard_after(res_b, _expect(logout, 204))
    response = await instance_b.get("/api/vps", headers=viewer.headers)
    assert response.status_code == 401, response.text
    assert "revoked" in response.json()["detail"]
    assert res_b.sessions.get(viewer.token) is None and res_b.sessions.due_recheck(viewer.token) is None


async def test_revoking_a_personal_token_is_refused_on_another_instance(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow]
) -> None:
    owner = await sign_in(client, db, Role.VIEWER)
    made = await client.post(
        "/api/tokens", json={"name": "cron", "expires_in_days": 30}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    as_token = SignedIn(owner.id, owner.username, owner.role, made.json()["token"])
    res_b = await _cached_on(instance_b, as_token)
    revoke = client.delete(f"/api/tokens/{made.json()['id']}", headers=owner.headers)
    await _heard_after(res_b, _expect(revoke, 204))
    assert (await instance_b.get("/api/vps", headers=as_token.headers)).status_code == 401
    # The owner's login session is another token: untouched.
    assert (await instance_b.get("/api/vps", headers=owner.headers)).status_code == 200


async def test_a_demoted_admin_loses_admin_routes_on_another_instance(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow], admin: SignedIn
) -> None:
    demoted = await sign_in(client, db, Role.ADMIN)
    res_b = await _cached_on(instance_b, demoted)
    assert (await instance_b.get("/api/users", headers=demoted.headers)).status_code == 200
    demote = client.patch(f"/api/users/{demoted.id}", json={"role": "viewer"}, headers=admin.headers)
    await _heard_after(res_b, _expect(demote, 200))
    # The token stays valid (a role change keeps sessions); the role is re-read.
    assert (await instance_b.get("/api/users", headers=demoted.headers)).status_code == 403
    assert (await instance_b.get("/api/vps", headers=demoted.headers)).status_code == 200
    refreshed = res_b.sessions.get(demoted.token)
    assert refreshed is not None and refreshed.role is Role.VIEWER


async def test_the_admin_cli_password_reset_reaches_running_instances(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow]
) -> None:
    operator = await sign_in(client, db, Role.OPERATOR)
    res_b = await _cached_on(instance_b, operator)
    # What `tidewatch-admin set-password` runs.
    await _heard_after(res_b, asyncio.to_thread(set_password, db, operator.username, "a new long passphrase"))
    assert (await instance_b.get("/api/vps", headers=operator.headers)).status_code == 401


@pytest.mark.parametrize("payload", ['{"token_id": 1}', "not json", '{"user_id": "1; DROP TABLE users"}'])
async def test_a_forged_hint_only_costs_a_reread(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow], payload: str
) -> None:
    """Any database role may NOTIFY: a hint can make instances re-read a row, never grant."""
    viewer = await sign_in(client, db, Role.VIEWER)
    res_b = await _cached_on(instance_b, viewer)
    generation = res_b.sessions.generation
    await _heard_after(
        res_b, asyncio.to_thread(db.execute, "SELECT pg_notify(%s, %s)", (AUTH_CHANGE_CHANNEL, payload))
    )
    assert res_b.sessions.generation > generation
    if payload != '{"token_id": 1}':  # unreadable: every entry is re-checked
        assert res_b.sessions.due_recheck(viewer.token) is not None
    assert (await instance_b.get("/api/vps", headers=viewer.headers)).status_code == 200
    assert res_b.sessions.get(viewer.token) is not None


async def test_a_lost_listener_rechecks_every_cached_token_when_it_returns(
    client: Client, instance_b: Client, db: psycopg.Connection[DictRow]
) -> None:
    """Hints sent while B's LISTEN connection was down are lost: B re-reads everything."""
    viewer = await sign_in(client, db, Role.VIEWER)
    res_b = await _cached_on(instance_b, viewer)
    terminated = db.execute(
        "SELECT count(*) AS n FROM pg_stat_activity, pg_terminate_backend(pid)"
        " WHERE application_name = 'tidewatch-api-listen' AND datname = current_database()"
    ).fetchone()
    assert terminated is not None and terminated["n"] >= 1
    # The cache is marked by the auth listener's catch-up; `listening` is set only
    # after every listener sharing the connection has caught up, a moment later.
    deadline = time.monotonic() + HEAR_WITHIN_S
    while res_b.sessions.due_recheck(viewer.token) is None or not res_b.auth_changes.listening.is_set():
        assert time.monotonic() < deadline, "the listener did not come back and mark the cache"
        await asyncio.sleep(0.05)
    assert (await instance_b.get("/api/vps", headers=viewer.headers)).status_code == 200
