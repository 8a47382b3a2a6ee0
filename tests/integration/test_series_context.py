"""The metrics endpoints' context: retention read at most every RETENTION_TTL_S, existence on demand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from api.metrics import context
from tests.conftest import create_vps


@pytest.fixture
def no_cached_host_retention() -> Iterator[None]:
    """The process-wide retention cache without host_metrics, before and after: this test's
    database and its 2-day setting must not answer for other tests' databases."""
    context._cache.pop("host_metrics", None)
    yield
    context._cache.pop("host_metrics", None)


@pytest.mark.usefixtures("no_cached_host_retention")
async def test_retention_is_remembered_for_its_ttl_and_then_read_again(own_dsn: str) -> None:
    dsn = own_dsn
    vps = create_vps(dsn)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, row_factory=dict_row) as db:
        first = await context.retention(db, "host_metrics")  # type: ignore[arg-type]
        await db.execute(
            "INSERT INTO retention_settings (relation, keep) VALUES ('host_metrics', interval '2 days')"
            " ON CONFLICT (relation) DO UPDATE SET keep = EXCLUDED.keep"
        )
        # Within the TTL: the value read before, with no query.
        assert await context.retention(db, "host_metrics") is first  # type: ignore[arg-type]
        # Past it: read again.
        expired = dataclasses.replace(first, read_at=first.read_at - context.RETENTION_TTL_S - 1)
        context._cache["host_metrics"] = expired
        again = await context.retention(db, "host_metrics")  # type: ignore[arg-type]
        assert again.raw_keep == timedelta(days=2)
        assert again.keep_1m == first.keep_1m
        assert await context.vps_exists(db, vps.id)  # type: ignore[arg-type]
        assert not await context.vps_exists(db, vps.id + 1000)  # type: ignore[arg-type]
