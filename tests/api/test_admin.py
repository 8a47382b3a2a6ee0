"""``tidewatch-admin``, run as the real console script against a fresh database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import DictRow, dict_row

from common.tokens import verify_password, verify_token
from tests.api.conftest import PASSWORD, fetch_one, fresh_database, unique
from tests.conftest import drop_test_database, free_port

pytestmark = pytest.mark.db
ADMIN = str(Path(sys.executable).parent / "tidewatch-admin")


@pytest.fixture(scope="module")
def admin_db_dsn() -> Iterator[str]:
    """A database of its own: bootstrap needs one without admins."""
    dsn = fresh_database()
    yield dsn
    drop_test_database(dsn)


@pytest.fixture
def conn(admin_db_dsn: str) -> Iterator[psycopg.Connection[DictRow]]:
    with psycopg.connect(admin_db_dsn, autocommit=True, row_factory=dict_row) as connection:
        yield connection


def run_admin(dsn: str, state: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDEWATCH_DSN": dsn, "TIDEWATCH_STATE": str(state)}
    return subprocess.run(
        [ADMIN, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_bootstrap_creates_one_admin_and_saves_its_password(
    admin_db_dsn: str, conn: psycopg.Connection[DictRow], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = run_admin(admin_db_dsn, state, "bootstrap")
    assert first.returncode == 0, first.stderr
    secret = state / "admin-password"
    password = secret.read_text().strip()
    assert f"password: {password}" in first.stdout and "username: admin" in first.stdout
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    row = fetch_one(conn, "SELECT * FROM users WHERE username = 'admin'")
    assert row["role"] == "admin" and verify_password(row["password_hash"], password)
    audit = fetch_one(conn, "SELECT * FROM audit_log WHERE target = %s", (f"user:{row['id']}",))
    assert (audit["action"], audit["actor"]) == ("user.bootstrap", "tidewatch-admin")

    again = run_admin(admin_db_dsn, state, "bootstrap")
    assert again.returncode == 0 and "admin already exists" in again.stdout
    assert secret.read_text().strip() == password
    assert fetch_one(conn, "SELECT count(*) AS n FROM users WHERE role = 'admin'")["n"] == 1


def test_bootstrap_still_creates_the_admin_where_the_state_dir_is_read_only(
    admin_db_dsn: str, conn: psycopg.Connection[DictRow], tmp_path: Path
) -> None:
    # Set any earlier admin aside, so bootstrap has work to do.
    conn.execute("UPDATE users SET username = 'admin-aside', disabled = true WHERE username = 'admin'")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    try:
        result = run_admin(admin_db_dsn, blocker / "state", "bootstrap")
        assert result.returncode == 0, result.stderr
        assert "password: " in result.stdout and "could not save the password" in result.stderr
        assert fetch_one(conn, "SELECT role FROM users WHERE username = 'admin'")["role"] == "admin"
    finally:
        conn.execute("DELETE FROM users WHERE username = 'admin'")
        conn.execute("UPDATE users SET username = 'admin', disabled = false WHERE username = 'admin-aside'")


def test_create_user_and_set_password_read_stdin(
    admin_db_dsn: str, conn: psycopg.Connection[DictRow], tmp_path: Path
) -> None:
    name = unique("ops")
    created = run_admin(
        admin_db_dsn, tmp_path, "create-user", name, "--role", "operator", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    row = fetch_one(conn, "SELECT * FROM users WHERE username = %s", (name,))
    assert row["role"] == "operator" and verify_password(row["password_hash"], PASSWORD)
    conn.execute(
        "INSERT INTO api_tokens (user_id, key_id, token_hash) VALUES (%s, %s, 'x')", (row["id"], unique("k"))
    )

    changed = run_admin(admin_db_dsn, tmp_path, "set-password", name, stdin="a brand new secret\n")
    assert changed.returncode == 0, changed.stderr
    row = fetch_one(conn, "SELECT * FROM users WHERE username = %s", (name,))
    assert verify_password(row["password_hash"], "a brand new secret")
    assert fetch_one(conn, "SELECT count(*) AS n FROM api_tokens WHERE user_id = %s", (row["id"],))["n"] == 0

    for args, stdin, message in [
        (("create-user", name), PASSWORD, "taken"),
        (("create-user", "bad name"), PASSWORD, "invalid username"),
        (("create-user", unique("u")), "short", "invalid password"),
        (("set-password", unique("ghost")), PASSWORD, "no user"),
    ]:
        failed = run_admin(admin_db_dsn, tmp_path, *args, stdin=stdin + "\n")
        assert failed.returncode == 1 and message in failed.stderr, failed.stderr


def test_create_vps_prints_only_the_token(
    admin_db_dsn: str, conn: psycopg.Connection[DictRow], tmp_path: Path
) -> None:
    name = unique("local")
    created = run_admin(admin_db_dsn, tmp_path, "create-vps", name, "--ip", "127.0.0.1")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("twa_") and "\n" not in token
    assert f"TIDEWATCH_AGENT_TOKEN={token}" in created.stderr
    row = fetch_one(conn, "SELECT * FROM vps WHERE name = %s", (name,))
    assert row["ip_address"] == "127.0.0.1" and verify_token(row["agent_token_hash"], token)
    duplicate = run_admin(admin_db_dsn, tmp_path, "create-vps", name)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr


def test_an_unreachable_database_is_reported(tmp_path: Path) -> None:
    dead = f"postgresql://tidewatch:x@127.0.0.1:{free_port()}/tidewatch?connect_timeout=1"
    result = run_admin(dead, tmp_path, "bootstrap")
    assert result.returncode == 1 and "cannot reach the database" in result.stderr
