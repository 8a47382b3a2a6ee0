"""Session hints (NOTIFY tidewatch_session_taken / token_rotated) of a storm share re-reads.

Every registration NOTIFYs its VPS id, and every collector hears it: a reconnect storm
of 2,000 agents was 2,000 one-row re-reads. Hints that arrive together are re-read in
one query now, and they still cut exactly the streams the vps rows say to cut.
"""

from __future__ import annotations

import asyncio

import grpc
import psycopg
import pytest

from collector.agent_session import TAKEN_OVER
from collector.app import CollectorApp
from common.channels import SESSION_TAKEN_CHANNEL
from tests.conftest import create_vps
from tests.integration.test_collector_ingest import open_stream
from tests.stream_client import TestStream

pytestmark = pytest.mark.db

AGENTS = 30


async def test_a_burst_of_hints_is_read_in_few_queries_and_cuts_only_taken_streams(
    collector: CollectorApp, db_dsn: str
) -> None:
    fleet = [create_vps(db_dsn) for _ in range(AGENTS)]
    streams: list[TestStream] = [await open_stream(collector, v.token) for v in fleet]
    # Let this collector's own registration hints pass before counting.
    await asyncio.sleep(0.5)
    reads: list[list[int]] = []
    recheck = collector.registry.recheck_tokens

    async def counted(vps_ids: list[int]) -> int:
        reads.append(list(vps_ids))
        return await recheck(vps_ids)

    collector.registry.recheck_tokens = counted  # type: ignore[method-assign]
    taken = {v.id for v in fleet[::2]}
    with psycopg.connect(db_dsn, autocommit=True) as conn, conn.transaction():
        # Another collector registers half of them: one hint per VPS, all delivered at commit.
        conn.execute("UPDATE vps SET connected_collector = 'elsewhere' WHERE id = ANY(%s)", (sorted(taken),))
        for v in fleet:
            conn.execute("SELECT pg_notify(%s, %s)", (SESSION_TAKEN_CHANNEL, str(v.id)))
    try:
        for vps, stream in zip(fleet, streams, strict=True):
            if vps.id in taken:
                assert await asyncio.wait_for(stream.status(), 20) == grpc.StatusCode.ABORTED
                assert await stream.details() == TAKEN_OVER
        # One or two gathered reads (and perhaps the 5 s safety-net poll), not one per hint.
        assert 1 <= len(reads) <= 4, reads
        held = set(collector.registry.held_vps_ids())
        assert held == {v.id for v in fleet} - taken
    finally:
        for stream in streams:
            await stream.close()
