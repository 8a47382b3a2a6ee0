"""Agent authentication of a reconnect storm: one SELECT for the handshakes of the same instant.

Against the real database, through the collector's own authenticator: every handshake
still gets its own answer (its VPS, or the precise refusal), and the rows of handshakes
that arrive together are read with one statement instead of one pooled transaction each.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from collector.auth import AgentAuthenticator, AuthFailure
from collector.database import Database
from tests.conftest import collector_settings, create_vps

pytestmark = pytest.mark.db


@pytest.fixture
async def database(db_dsn: str) -> AsyncIterator[Database]:
    db = Database(collector_settings(), db_dsn)
    await db.pool.open(wait=True)
    yield db
    await db.pool.close()


async def test_a_storm_of_handshakes_is_looked_up_together_and_each_answered(
    database: Database, db_dsn: str
) -> None:
    fleet = [create_vps(db_dsn) for _ in range(25)]
    uses: Counter[str] = Counter()
    connection = database.connection

    def counted(what: str, limit_s: float | None = None) -> AbstractAsyncContextManager[Any]:
        uses[what] += 1
        return connection(what, limit_s)

    database.connection = counted  # type: ignore[method-assign,assignment]
    auth = AgentAuthenticator(database)
    key_id = fleet[0].token.partition(".")[0]
    results = await asyncio.gather(
        *(auth.authenticate(f"Bearer {v.token}") for v in fleet),
        auth.authenticate(f"Bearer {key_id}.{'A' * 43}"),  # a known key id, the wrong secret
        auth.authenticate(f"Bearer twa_{'Z' * 16}.{'A' * 43}"),  # no VPS has this key id
        return_exceptions=True,
    )
    await auth.digests_written()
    assert [r.vps_id for r in results[:25] if not isinstance(r, BaseException)] == [v.id for v in fleet]
    wrong, unknown = results[25:]
    assert isinstance(wrong, AuthFailure) and "wrong agent token" in str(wrong)
    assert isinstance(unknown, AuthFailure) and "unknown agent token" in str(unknown)
    # 27 handshakes, one lookup (a lone straggler could make it two); then one digest write.
    assert 1 <= uses["agent authentication"] <= 2, uses
    assert uses["agent token digests"] == 1, uses
    # After a restart (a fresh authenticator), by digest: still one lookup for all of them.
    uses.clear()
    again = AgentAuthenticator(database)
    identities = await asyncio.gather(*(again.authenticate(f"Bearer {v.token}") for v in fleet))
    assert [i.vps_id for i in identities] == [v.id for v in fleet]
    assert uses == Counter({"agent authentication": 1}), uses
