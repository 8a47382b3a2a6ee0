"""NOTIFYs sent while the collector's listener reconnects are lost; the catch-up
after every (re)connect does their work: rotated tokens cut, config re-pushed."""

from __future__ import annotations

import grpc
import psycopg
import pytest

from collector.app import CollectorApp
from common.tokens import AGENT_TOKEN_PREFIX, issue_token
from tests.conftest import create_vps
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db


async def test_catch_up_cuts_rotated_and_deleted_and_repushes_config(
    collector: CollectorApp, db_dsn: str
) -> None:
    rotated, deleted, kept = (create_vps(db_dsn) for _ in range(3))
    streams = {}
    for vps in (rotated, deleted, kept):
        stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
        await stream.send(handshake())
        await stream.next("server_handshake_ack")
        streams[vps.id] = stream
    with psycopg.connect(db_dsn) as conn:  # no NOTIFY: as if the listener was away
        fresh = issue_token(AGENT_TOKEN_PREFIX)
        conn.execute(
            "UPDATE vps SET agent_key_id = %s, agent_token_hash = %s, token_rotated_at = now() WHERE id = %s",
            (fresh.key_id, fresh.token_hash, rotated.id),
        )
        conn.execute("DELETE FROM vps WHERE id = %s", (deleted.id,))
        conn.execute(
            "UPDATE vps SET agent_config = '{\"snapshot_interval_ms\": 3000}' WHERE id = %s", (kept.id,)
        )

    await collector._catch_up()

    assert await streams[rotated.id].status() == grpc.StatusCode.ABORTED
    assert await streams[deleted.id].status() == grpc.StatusCode.NOT_FOUND
    pushed = await streams[kept.id].next("agent_config")
    assert pushed.agent_config.snapshot_interval_ms == 3000
    for stream in streams.values():
        await stream.close()
