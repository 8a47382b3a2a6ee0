"""Password checks under a login storm (issue 10, item 9): low-priority worker processes,
an admission limit that answers 503 at once, slots reserved for users who signed in
lately from the same address, and argon2 parameters upgraded on login."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import psutil
import psycopg
import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import DictRow

from api.app import create_app
from api.auth.hashing import HASHING_NICENESS, HashingPool, default_workers
from api.auth.recent_logins import RecentLogins
from api.auth.throttle import BucketRule
from api.errors import ProblemError
from api.resources import get_resources
from common.api_models import Role
from common.settings import ApiSettings
from common.tokens import hash_password, password_needs_rehash, verify_password
from tests.api.conftest import PASSWORD, assert_problem, audit_rows, create_user, roomy_throttle
from tests.conftest import free_port

Db = psycopg.Connection[DictRow]


async def test_hashing_runs_in_worker_processes_at_low_priority() -> None:
    pool = HashingPool(workers=1)
    try:
        worker_pid = await asyncio.wait_for(pool.run(os.getpid), 60)
        assert worker_pid != os.getpid()  # no GIL shared with the event loop
        worker_nice = await asyncio.wait_for(pool.run(os.getpriority, os.PRIO_PROCESS, 0), 60)
        assert worker_nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + HASHING_NICENESS)
        stored = await asyncio.wait_for(pool.run(hash_password, PASSWORD), 60)
        assert await asyncio.wait_for(pool.run(verify_password, stored, PASSWORD), 60)
    finally:
        pool.close()


async def test_admission_is_bounded_says_busy_at_once_and_keeps_reserved_slots() -> None:
    assert HashingPool().max_waiting <= default_workers()  # a short queue by default, not dozens
    pool = HashingPool(workers=1, max_waiting=1, reserved_slots=1)
    try:
        async with AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(pool.admission())
            with pytest.raises(ProblemError) as busy:
                pool.admission()
            assert busy.value.status_code == 503 and (busy.value.headers or {}).get("Retry-After") == "1"
            # A trusted caller still gets the reserved slot, and runs work in it.
            async with pool.admission(trusted=True) as slot:
                assert await asyncio.wait_for(slot.run(os.getpid), 60) != os.getpid()
                with pytest.raises(ProblemError):
                    pool.admission(trusted=True)  # reserved and general slots are all taken
        async with pool.admission() as slot:  # freed again
            assert await asyncio.wait_for(slot.run(os.getpid), 60) > 0
    finally:
        pool.close()


async def test_general_slots_admit_a_bounded_rate_and_reserved_slots_do_not_count() -> None:
    now = [1000.0]
    pool = HashingPool(
        workers=1,
        max_waiting=10,
        reserved_slots=1,
        general_rate=BucketRule(capacity=2, per_minute=60),
        clock=lambda: now[0],
    )
    try:
        for _ in range(2):
            async with pool.admission():
                pass
        with pytest.raises(ProblemError) as busy:
            pool.admission()  # slots are free, but the second's budget is spent
        assert busy.value.status_code == 503
        async with pool.admission(trusted=True) as slot:
            assert await asyncio.wait_for(slot.run(os.getpid), 60) != os.getpid()
        now[0] += 1.0
        async with pool.admission():
            pass
    finally:
        pool.close()


def one_worker_app(db_dsn: str) -> Litestar:
    """An API whose hashing pool has one worker, no queue and one reserved slot:
    holding its one general admission is a storm that fills it."""
    return create_app(
        ApiSettings(),
        db_dsn,
        throttle=roomy_throttle(),
        hashing=lambda: HashingPool(workers=1, max_waiting=0, reserved_slots=1),
    )


@pytest.mark.db
async def test_a_full_pool_answers_503_at_once_but_lets_a_recent_user_in(db_dsn: str, db: Db) -> None:
    _, admin = create_user(db, Role.ADMIN)
    _, newcomer = create_user(db, Role.VIEWER)
    app = one_worker_app(db_dsn)
    async with AsyncTestClient(app=app, timeout=60) as client:
        first = await client.post("/api/auth/login", json={"username": admin, "password": PASSWORD})
        assert first.status_code == 200, first.text
        # A storm from elsewhere holds every general slot.
        async with get_resources(app.state).hashing.admission():
            started = time.monotonic()
            storm = await client.post("/api/auth/login", json={"username": newcomer, "password": "wrong"})
            body = assert_problem(storm, 503)
            assert "try again" in body["detail"] and storm.headers["retry-after"] == "1"
            assert time.monotonic() - started < 10  # refused, not queued behind the storm
            not_yet = await client.post("/api/auth/login", json={"username": newcomer, "password": PASSWORD})
            assert_problem(not_yet, 503)
            # The admin signed in from this address lately: a reserved slot lets them in.
            again = await client.post("/api/auth/login", json={"username": admin, "password": PASSWORD})
            assert again.status_code == 200, again.text
        later = await client.post("/api/auth/login", json={"username": newcomer, "password": PASSWORD})
        assert later.status_code == 200, later.text


@pytest.mark.db
async def test_signed_in_admins_hash_in_the_reserved_lane_during_a_storm(db_dsn: str, db: Db) -> None:
    _, admin = create_user(db, Role.ADMIN)
    app = one_worker_app(db_dsn)
    async with AsyncTestClient(app=app, timeout=60) as client:
        signed_in = await client.post("/api/auth/login", json={"username": admin, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        # Anonymous logins hold every general slot; an admin's own work must still go through.
        async with get_resources(app.state).hashing.admission():
            created = await client.post(
                "/api/users",
                json={"username": f"storm-{os.getpid()}-{time.monotonic_ns()}", "password": PASSWORD},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            token = await client.post(
                "/api/tokens", json={"name": "ci", "expires_in_days": 1}, headers=headers
            )
            assert token.status_code == 201, token.text


def test_recent_logins_are_per_address_and_username_and_fade() -> None:
    now = [1000.0]
    recent = RecentLogins(remember_s=60, max_remembered=2, clock=lambda: now[0])
    recent.record("198.51.100.7", "Admin")
    assert ("198.51.100.7", "admin") in recent
    assert ("203.0.113.9", "admin") not in recent
    assert ("198.51.100.7", "other") not in recent
    now[0] += 61
    assert ("198.51.100.7", "admin") not in recent
    for index in range(3):
        recent.record("198.51.100.7", f"user{index}")
    assert ("198.51.100.7", "user0") not in recent  # bounded: the least recent goes first
    assert ("198.51.100.7", "user2") in recent


def test_passwords_use_owasp_argon2id_parameters_and_older_hashes_still_verify() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not password_needs_rehash(stored)
    older = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)
    assert verify_password(older, PASSWORD) and password_needs_rehash(older)


@pytest.mark.db
async def test_login_upgrades_a_hash_made_with_older_parameters(
    client: AsyncTestClient[Litestar], db: Db
) -> None:
    older = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)
    user_id, username = create_user(db, Role.VIEWER)
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (older, user_id))
    for _ in range(2):
        response = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
    row = db.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None and row["password_hash"] != older
    assert not password_needs_rehash(row["password_hash"])
    assert verify_password(row["password_hash"], PASSWORD)
    logins = [r for r in audit_rows(db, f"user:{user_id}") if r["action"] == "auth.login"]
    assert [r["detail"] for r in logins] == [{"password_rehashed": True}, {}]


@pytest.mark.db
def test_hashing_processes_do_not_outlive_a_killed_api(db_dsn: str) -> None:
    port = free_port()
    env = {**os.environ, "TIDEWATCH_DSN": db_dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}"}
    api_bin = Path(sys.executable).with_name("tidewatch-api")
    api = subprocess.Popen([str(api_bin)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: list[psutil.Process] = []
        deadline = time.monotonic() + 60
        while not workers and time.monotonic() < deadline:  # the lifespan starts them at once
            assert api.poll() is None, "tidewatch-api exited during start"
            workers = [
                child
                for child in psutil.Process(api.pid).children(recursive=True)
                if "spawn_main" in " ".join(child.cmdline())
            ]
            time.sleep(0.2)
        assert workers, "no hashing process started within 60 s"
        api.kill()
        api.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=20)
        assert alive == [], f"hashing processes left behind: {alive}"
    finally:
        if api.poll() is None:
            api.kill()
            api.wait(30)


def test_a_worker_started_after_its_api_died_exits() -> None:
    # The race the killed-API test can hit under load: the API dies before a worker's
    # initializer runs, so the worker's parent is already someone else.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom api.auth.hashing import _start_worker\n"
            f"_start_worker(0, {gone.pid})\ntime.sleep(120)",
        ]
    )
    try:
        assert worker.wait(60) == 0  # it noticed its API is gone, well before the sleep ends
    finally:
        worker.kill()
