"""Pure parts of the database time limits: connection parameters, what counts as
the database not answering, and the collector's one-line-per-outage view."""

from __future__ import annotations

import logging
import re
import time

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg_pool import PoolTimeout

from collector.database import DatabaseHealth
from common.db_limits import DatabaseUnresponsive, connect_kwargs, is_connection_failure


def database_up() -> float | None:
    return REGISTRY.get_sample_value("tidewatch_collector_database_up")


def test_connect_kwargs_bound_connecting_and_keep_what_the_dsn_says() -> None:
    kwargs = connect_kwargs("postgresql://u@h/db", 0.5)
    assert kwargs["connect_timeout"] == 2  # libpq's minimum, in whole seconds
    assert kwargs["keepalives"] == 1 and kwargs["tcp_user_timeout"] > 0
    assert connect_kwargs("postgresql://u@h/db", 7.2)["connect_timeout"] == 8
    mine = connect_kwargs("postgresql://u@h/db?connect_timeout=1&keepalives_idle=60", 5)
    assert "connect_timeout" not in mine and "keepalives_idle" not in mine and "keepalives" in mine


def test_connection_failures_are_told_from_refused_statements() -> None:
    assert is_connection_failure(DatabaseUnresponsive("ingest write", 3))
    assert is_connection_failure(PoolTimeout("couldn't get a connection after 5.00 sec"))
    assert is_connection_failure(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert is_connection_failure(psycopg.errors.AdminShutdown())
    assert is_connection_failure(ConnectionResetError())
    assert not is_connection_failure(psycopg.errors.QueryCanceled())  # the server answered: too slow
    assert not is_connection_failure(psycopg.errors.UniqueViolation())
    assert not is_connection_failure(ValueError())


def test_an_outage_is_logged_once_each_way_and_drives_the_gauge(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "tidewatch.collector.database")
    health = DatabaseHealth()
    before = time.monotonic()
    health.failed(time.monotonic() - 3, DatabaseUnresponsive("ingest write", 3))
    assert not health.up and database_up() == 0
    for _ in range(5):  # every batch and every query of the outage
        health.failed(time.monotonic(), PoolTimeout())
    health.answered(before)  # stale: started before the outage was noticed
    assert not health.up and database_up() == 0
    health.answered(time.monotonic())
    health.answered(time.monotonic())
    health.failed(before, DatabaseUnresponsive("housekeeping", 5))  # stale: started before it came back
    assert health.up and database_up() == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert re.fullmatch(
        r"database unresponsive for [34] s \(ingest write: no answer\); unacknowledged batches stay queued, "
        r"agents keep theirs until it answers",
        messages[0],
    ), messages
    assert re.fullmatch(r"database back after \d+ s", messages[1]), messages


def test_a_refusing_database_is_unavailable_rather_than_unresponsive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tidewatch.collector.database")
    health = DatabaseHealth()
    health.failed(time.monotonic(), psycopg.OperationalError("connection refused\nIs the server running?"))
    health.answered(time.monotonic())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("database unavailable (connection refused); ")
    assert messages[1].startswith("database back after ")
