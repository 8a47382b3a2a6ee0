"""Fixtures for integration tests: a private PostgreSQL cluster for fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.pg_control import PrivatePostgres, private_postgres_unavailable
from tests.prerequisites import require


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    """A throwaway cluster per module that tests may stop, restart or freeze."""
    require(private_postgres_unavailable())
    cluster = PrivatePostgres(free_port())
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()
