"""Fixtures for integration tests: a private PostgreSQL cluster for fault tests.

Every async test here runs on the event loop the collector runs on in production
(uvloop, common/event_loop.py), so the collectors these tests start in-process
run on it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping

import pytest

from common.event_loop import loop_factory
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


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": loop_factory("uvloop")}
