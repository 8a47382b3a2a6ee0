"""Fewer round trips per request (issue 12): the pool checks only connections idle
for a while, and API sessions run with JIT off."""

from __future__ import annotations

import time

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg.rows import dict_row

from api import resources
from api.resources import Connection


async def test_a_recently_returned_connection_is_not_checked_and_an_idle_one_is(db_dsn: str) -> None:
    conn = await Connection.connect(db_dsn, row_factory=dict_row, autocommit=True)
    try:
        await resources._note_returned(conn)
        await conn.close()
        # Returned a moment ago: no check, so the closed connection goes unnoticed here
        # (its own statement fails later, as for a server lost mid-request).
        await resources._check_if_idle(conn)
        resources._returned_at[conn] = time.monotonic() - resources.CHECK_AFTER_IDLE_S - 1
        with pytest.raises(psycopg.OperationalError):
            await resources._check_if_idle(conn)
    finally:
        await conn.close()


async def test_the_api_pool_runs_without_jit(app: Litestar, client: AsyncTestClient[Litestar]) -> None:
    async with resources.get_resources(app.state).connection("test") as conn:
        row = await (await conn.execute("SELECT current_setting('jit') AS jit")).fetchone()
    assert row == {"jit": "off"}
