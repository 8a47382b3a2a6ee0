"""Fixtures for integration tests: a private PostgreSQL cluster for fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from tests.pg_control import PrivatePostgres, private_postgres_unavailable


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    """A throwaway cluster per module that tests may stop, restart or freeze."""
    if (reason := private_postgres_unavailable()) is not None:
        pytest.skip(reason)
    cluster = PrivatePostgres(free_port())
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()
