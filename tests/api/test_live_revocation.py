"""Revocation reaches open live sockets on every API instance, through the database.

Two app instances share the database. The socket is open on instance B; the
change is made through instance A, which has no way to tell B but the tables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from psycopg.rows import DictRow

from api.app import create_app
from api.live.socket import REVALIDATE_S, WS_ROLE_CHANGED, WS_UNAUTHORIZED
from common.api_models import Role
from common.settings import ApiSettings
from tests.api.conftest import SignedIn, sign_in

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]
CLOSE_WITHIN_S = 3 * REVALIDATE_S + 5  # "within a few seconds", with room for a busy machine


@pytest.fixture
async def other_instance(api_settings: ApiSettings, db_dsn: str) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(api_settings, db_dsn)) as second:
        yield second


def _closed(ws: WebSocketTestSession) -> tuple[int, str, float]:
    """Read until the server closes; the close code, reason and seconds it took."""
    started = time.monotonic()
    with pytest.raises(WebSocketDisconnect) as closed:
        while time.monotonic() - started < CLOSE_WITHIN_S + 5:
            ws.receive_json(timeout=CLOSE_WITHIN_S + 5)
    return closed.value.code, str(closed.value.detail), time.monotonic() - started


async def _assert_change_closes_socket(
    instance_b: Client,
    user: SignedIn,
    change: Callable[[], Awaitable[None]],
    code: int,
    reasons: tuple[str, ...],
) -> None:
    ws = await instance_b.websocket_connect("/api/live", params={"token": user.token})
    with ws:
        assert ws.receive_json(timeout=5)["type"] == "welcome"
        ws.send_json({"type": "subscribe", "all": True})
        assert ws.receive_json(timeout=5)["type"] == "subscribed"
        await change()
        closed_code, closed_reason, seconds = await asyncio.to_thread(_closed, ws)
    assert closed_code == code, closed_reason
    assert any(reason in closed_reason for reason in reasons), closed_reason
    assert seconds < CLOSE_WITHIN_S


async def test_logout_on_one_instance_closes_the_socket_on_another(
    client: Client, other_instance: Client, db: psycopg.Connection[DictRow]
) -> None:
    viewer = await sign_in(client, db, Role.VIEWER)

    async def logout() -> None:
        response = await client.post("/api/auth/logout", headers=viewer.headers)
        assert response.status_code == 204, response.text

    await _assert_change_closes_socket(other_instance, viewer, logout, WS_UNAUTHORIZED, ("revoked",))


async def test_disabling_the_user_closes_their_socket(
    client: Client, other_instance: Client, db: psycopg.Connection[DictRow], admin: SignedIn
) -> None:
    viewer = await sign_in(client, db, Role.VIEWER)

    async def disable() -> None:
        response = await client.patch(
            f"/api/users/{viewer.id}", json={"disabled": True}, headers=admin.headers
        )
        assert response.status_code == 200, response.text

    # Disabling also deletes the user's tokens: either reason is the truth.
    await _assert_change_closes_socket(
        other_instance, viewer, disable, WS_UNAUTHORIZED, ("disabled", "revoked")
    )


async def test_a_user_disabled_in_the_database_loses_their_socket(
    client: Client, other_instance: Client, db: psycopg.Connection[DictRow]
) -> None:
    viewer = await sign_in(client, db, Role.VIEWER)

    async def disable() -> None:  # as an admin tool would, tokens kept
        db.execute("UPDATE users SET disabled = true WHERE id = %s", (viewer.id,))

    await _assert_change_closes_socket(other_instance, viewer, disable, WS_UNAUTHORIZED, ("disabled",))


async def test_a_role_change_closes_the_socket_with_its_own_code(
    client: Client, other_instance: Client, db: psycopg.Connection[DictRow], admin: SignedIn
) -> None:
    operator = await sign_in(client, db, Role.OPERATOR)

    async def demote() -> None:
        response = await client.patch(
            f"/api/users/{operator.id}", json={"role": "viewer"}, headers=admin.headers
        )
        assert response.status_code == 200, response.text

    await _assert_change_closes_socket(
        other_instance, operator, demote, WS_ROLE_CHANGED, ("role changed to viewer",)
    )


async def test_an_unchanged_session_keeps_its_socket(client: Client, viewer: SignedIn) -> None:
    """Control: several recheck periods pass and the socket still answers."""
    ws = await client.websocket_connect("/api/live", params={"token": viewer.token})
    with ws:
        assert ws.receive_json(timeout=5)["type"] == "welcome"
        await asyncio.sleep(3 * REVALIDATE_S)
        ws.send_json({"type": "ping"})
        assert ws.receive_json(timeout=5) == {"type": "pong"}


async def test_revoking_a_personal_token_closes_the_socket_it_opened(
    client: Client, other_instance: Client, db: psycopg.Connection[DictRow]
) -> None:
    owner = await sign_in(client, db, Role.VIEWER)
    made = await client.post("/api/tokens", json={"name": "live feed"}, headers=owner.headers)
    assert made.status_code == 201, made.text
    as_token = SignedIn(owner.id, owner.username, owner.role, made.json()["token"])

    async def revoke() -> None:
        response = await client.delete(f"/api/tokens/{made.json()['id']}", headers=owner.headers)
        assert response.status_code == 204, response.text

    await _assert_change_closes_socket(other_instance, as_token, revoke, WS_UNAUTHORIZED, ("revoked",))
