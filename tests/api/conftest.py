"""Fixtures for API tests: the app on the session's scratch database
(``db_dsn`` from tests/conftest.py) through ``AsyncTestClient``, and users
signed in per role.

Tests share the session's database, so they name what they create with
:func:`unique` and never assume an empty table.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession
from psycopg.rows import DictRow, dict_row

from api.app import create_app
from api.auth.hashing import HashingPool
from api.auth.throttle import AuthThrottle, BucketRule
from common.api_models import Role
from common.edition import Edition
from common.settings import ApiSettings
from common.tokens import hash_password
from tests.conftest import create_test_database, drop_test_database, server_edition

PASSWORD = "correct horse battery"


def fresh_database() -> str:
    """tests/conftest.py's ``create_test_database``, with retries.

    TimescaleDB's background scheduler connects to every database holding the
    extension, ``tidewatch_template`` included, so CREATE DATABASE … TEMPLATE
    sometimes fails with ObjectInUse. Drop the retry once tests/conftest.py
    retries (or the template is ALTERed to ALLOW_CONNECTIONS false).
    """
    for attempt in range(20):
        try:
            return create_test_database()
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def db_dsn() -> Iterator[str]:
    """The session's scratch database (overrides tests/conftest.py's to retry)."""
    dsn = fresh_database()
    yield dsn
    drop_test_database(dsn)


def unique(prefix: str) -> str:
    """A name no other test in the session uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def db(db_dsn: str) -> Iterator[psycopg.Connection[DictRow]]:
    """A direct autocommit connection, for arranging rows and checking effects."""
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(scope="session")
def api_settings() -> ApiSettings:
    return ApiSettings()


# The suite signs in hundreds of users from one test address; test_throttle.py checks the real limits.
ROOMY = BucketRule(capacity=100_000, per_minute=100_000)


def roomy_throttle() -> AuthThrottle:
    """Limits the suite never reaches."""
    return AuthThrottle(login_per_ip_and_user=ROOMY, login_per_ip=ROOMY, register_per_ip=ROOMY)


def roomy_hashing() -> HashingPool:
    """The hashing pool without its rate on general slots (test_hashing_admission.py checks it)."""
    return HashingPool(general_rate=None)


@pytest.fixture(scope="session")
def app(api_settings: ApiSettings, db_dsn: str) -> Litestar:
    return create_app(api_settings, db_dsn, throttle=roomy_throttle(), hashing=roomy_hashing)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app, with its lifespan running for the whole session."""
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def create_user(
    conn: psycopg.Connection[DictRow], role: Role, password: str = PASSWORD, username: str | None = None
) -> tuple[int, str]:
    """Insert a user directly; returns (id, username)."""
    name = username or unique(role.value)
    row = conn.execute(
        "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s) RETURNING id",
        (name, hash_password(password), role.value),
    ).fetchone()
    assert row is not None
    return row["id"], name


@dataclass(frozen=True)
class SignedIn:
    """A user with a live session token."""

    id: int
    username: str
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_in(
    client: AsyncTestClient[Litestar], conn: psycopg.Connection[DictRow], role: Role
) -> SignedIn:
    """Create a user with ``role`` and log in through the API."""
    user_id, username = create_user(conn, role)
    response = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return SignedIn(user_id, username, role, response.json()["token"])


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow]) -> SignedIn:
    return await sign_in(client, db, Role.ADMIN)


@pytest.fixture
async def operator(client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow]) -> SignedIn:
    return await sign_in(client, db, Role.OPERATOR)


@pytest.fixture
async def viewer(client: AsyncTestClient[Litestar], db: psycopg.Connection[DictRow]) -> SignedIn:
    return await sign_in(client, db, Role.VIEWER)


def insert_host_metrics(
    conn: psycopg.Connection[DictRow], vps_id: int, start: datetime, end: datetime, every: timedelta
) -> int:
    """Raw host samples every ``every`` in ``[start, end)``; CPU % is the minute
    of the hour, memory used is 1 GiB plus the second of the minute in MiB.
    Returns the number of rows."""
    cur = conn.execute(
        """
        INSERT INTO host_metrics
        SELECT t, %(vps)s, extract(minute FROM t), '{}', 1, 2, 3, 4, 0.5, 0.4, 0.3,
               8589934592, 1073741824 + extract(second FROM t)::bigint * 1048576,
               4294967296, 1000, 2000, 0, 0, 10, 2, 100, 3600
        FROM generate_series(%(start)s, %(end)s - interval '1 microsecond', %(every)s) AS t
        """,
        {"vps": vps_id, "start": start, "end": end, "every": every},
    )
    return cur.rowcount


def refresh_rollups(conn: psycopg.Connection[DictRow], since: datetime, source: str = "host_metrics") -> None:
    """Bring ``source``'s rollups up to date after writing rows from ``since`` on
    (``conn`` in autocommit), as the collector's maintenance does on each edition."""
    if server_edition() is Edition.APACHE:
        conn.execute("SELECT tw_record_late_data(%s::regclass, %s)", (source, since))
        for suffix in ("1m", "1h"):
            conn.execute("SELECT tw_refresh_rollup(%s, '15 minutes')", (f"{source}_{suffix}",))
        return
    for suffix, width in (("1m", "1 minute"), ("1h", "1 hour")):
        window = conn.execute(
            "SELECT least(time_bucket(%(w)s::interval, %(since)s), time_bucket(%(w)s::interval, now()) - %(w)s::interval)"
            " AS from_time, time_bucket(%(w)s::interval, now()) AS to_time",
            {"w": width, "since": since},
        ).fetchone()
        assert window is not None
        conn.execute(
            "CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
            (f"{source}_{suffix}", window["from_time"], window["to_time"]),
        )


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status``, naming ``field`` if given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://tidewatch.dev/problems/")
    assert body["title"] and body["detail"] and body["instance"].startswith("/")
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body
    return body


def audit_rows(conn: psycopg.Connection[DictRow], target: str) -> list[dict[str, Any]]:
    """Audit rows for ``target``, oldest first."""
    return conn.execute("SELECT * FROM audit_log WHERE target = %s ORDER BY id", (target,)).fetchall()


def fetch_one(conn: psycopg.Connection[DictRow], query: str, params: Any = None) -> dict[str, Any]:
    """The single row ``query`` returns; fails the test when there is none."""
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None, query
    return row


def subscribe_when_listening(ws: WebSocketTestSession, message: dict[str, Any]) -> dict[str, Any]:
    """Subscribe, repeating until the hub's LISTEN is up (it connects in the background)."""
    deadline = time.monotonic() + 10
    while True:
        ws.send_json(message)
        ack: dict[str, Any] = ws.receive_json(timeout=5)
        if ack["listening"] or time.monotonic() > deadline:
            return ack
        time.sleep(0.1)
