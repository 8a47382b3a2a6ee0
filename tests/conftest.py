"""Shared fixtures: a throwaway TimescaleDB database per session, VPS rows, a collector.

Every database test runs against the real local TimescaleDB (scripts/local-db.sh);
each session gets a fresh database made from ``tidewatch_template`` and migrated.
The server is the Apache edition unless ``TIDEWATCH_DSN`` points elsewhere
(scripts/test.sh points it at the Community-edition server for the storage tests).
Tests marked ``edition("apache")`` or ``edition("timescale")`` run only on that
edition; the others are deselected and counted in the summary, never skipped silently.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from common.edition import Edition
from common.migrate import apply_migrations, detect_edition
from common.settings import CollectorSettings, SettingsError, resolve_dsn
from common.tokens import AGENT_TOKEN_PREFIX, issue_token
from tests.prerequisites import require_browser

pytest_plugins = ["tests.docker_fixtures"]

ARTIFACTS = Path(os.environ.get("TIDEWATCH_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A browser test without a browser fails in CI and is skipped, naming it, elsewhere."""
    if item.get_closest_marker("browser") is not None or "dash_duo" in getattr(item, "fixturenames", ()):
        require_browser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_dsn() -> str:
    try:
        return resolve_dsn()
    except SettingsError as exc:
        pytest.exit(f"database tests need TimescaleDB: {exc}", returncode=3)


@cache
def server_edition() -> Edition:
    """The TimescaleDB edition of the server the tests run against."""
    with psycopg.connect(_server_dsn()) as conn:
        return detect_edition(conn)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [(item, item.get_closest_marker("edition")) for item in items]
    if not any(marker for _, marker in marked):
        return
    edition = server_edition()
    other = [item for item, marker in marked if marker and Edition(marker.args[0]) is not edition]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]
        config.stash[_DESELECTED_FOR_EDITION] = (edition, len(other))


_DESELECTED_FOR_EDITION = pytest.StashKey[tuple[Edition, int]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if (deselected := config.stash.get(_DESELECTED_FOR_EDITION, None)) is not None:
        edition, count = deselected
        terminalreporter.write_line(
            f"server edition: {edition.value}; {count} test(s) for the other edition deselected"
        )


def create_test_database(prefix: str = "tidewatch_test", server_dsn: str | None = None) -> str:
    """A fresh, migrated database on the test server (or ``server_dsn``'s); returns its DSN.
    Drop it with ``drop_test_database``."""
    base = server_dsn or _server_dsn()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        # PostgreSQL copies a template only while nobody else is connected to it,
        # and concurrent copies briefly connect: retry for a little while.
        for attempt in range(50):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE tidewatch_template')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.2 + random.random() * 0.3)
    dsn = make_conninfo(base, dbname=name)
    apply_migrations(dsn)
    return dsn


def drop_test_database(dsn: str) -> None:
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(make_conninfo(dsn, dbname="tidewatch"), autocommit=True) as conn:
        # TimescaleDB's background scheduler (a superuser session) may be attached for a
        # moment, which FORCE cannot terminate for us: retry briefly.
        for attempt in range(30):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if attempt == 29:
                    raise
                time.sleep(0.2 + random.random() * 0.3)


@pytest.fixture(scope="session")
def db_dsn() -> Iterator[str]:
    dsn = create_test_database()
    yield dsn
    drop_test_database(dsn)


@pytest.fixture
def own_dsn() -> Iterator[str]:
    """A fresh database for one test, for counts no other test's rows may disturb."""
    dsn = create_test_database("tidewatch_own")
    yield dsn
    drop_test_database(dsn)


@dataclass(frozen=True)
class Vps:
    id: int
    token: str


def create_vps(dsn: str, name: str | None = None) -> Vps:
    issued = issue_token(AGENT_TOKEN_PREFIX)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash) VALUES (%s, '127.0.0.1', %s, %s)"
            " RETURNING id",
            (name or f"vps-{secrets.token_hex(3)}", issued.key_id, issued.token_hash),
        ).fetchone()
    assert row is not None
    return Vps(int(row[0]), issued.token)


@pytest.fixture
def vps(db_dsn: str) -> Vps:
    return create_vps(db_dsn)


def collector_settings(**overrides: object) -> CollectorSettings:
    values: dict[str, object] = {
        "listen": "127.0.0.1:0",
        "metrics_listen": "",
        "flush_interval_ms": 50,
        "heartbeat_interval_s": 2.0,
        "maintenance_interval_s": 3600.0,
        "collector_id": f"test-{secrets.token_hex(3)}",
    }
    values.update(overrides)
    return CollectorSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def collector(db_dsn: str) -> AsyncIterator[object]:
    from collector.app import CollectorApp

    app = CollectorApp(collector_settings(), db_dsn)
    await app.start()
    yield app
    await app.stop(2.0)
