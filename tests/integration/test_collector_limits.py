"""Limits on the gRPC port for peers that have not proven who they are.

Idle connections are closed by the server; streams that have not finished their
handshake are capped per IP while established agents carry on. Small limits
here; the defaults are in common/settings.py and docs/security.md.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import grpc
import h2.config
import h2.connection
import pytest

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_ingest import open_stream
from tests.stream_client import TestStream

pytestmark = pytest.mark.db

IDLE_S = 1.0
PER_IP = 3


@pytest.fixture
async def limited_collector(db_dsn: str) -> AsyncIterator[CollectorApp]:
    app = CollectorApp(
        collector_settings(
            connection_idle_s=IDLE_S, connection_handshake_s=IDLE_S, unestablished_streams_per_ip=PER_IP
        ),
        db_dsn,
    )
    await app.start()
    yield app
    await app.stop(2.0)


def _seconds_until_closed(port: int, *, http2_preface: bool, give_up_s: float = 20.0) -> float:
    """Connect, optionally say the HTTP/2 preface, open no call; when does the server hang up?"""
    with socket.create_connection(("127.0.0.1", port), timeout=give_up_s) as sock:
        started = time.monotonic()
        if http2_preface:
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
        while sock.recv(65536):
            pass
        return time.monotonic() - started


@pytest.mark.parametrize("http2_preface", [True, False], ids=["http2-no-call", "silent-tcp"])
async def test_idle_connections_are_closed_by_the_server(
    limited_collector: CollectorApp, http2_preface: bool
) -> None:
    seconds = await asyncio.to_thread(
        _seconds_until_closed, limited_collector.port, http2_preface=http2_preface
    )
    assert IDLE_S * 0.5 <= seconds < IDLE_S + 5, seconds


async def test_unestablished_streams_are_capped_per_ip_and_agents_still_connect(
    limited_collector: CollectorApp, db_dsn: str
) -> None:
    target = f"127.0.0.1:{limited_collector.port}"
    established = await open_stream(limited_collector, create_vps(db_dsn).token)
    # Valid tokens, but no handshake: each holds a slot until HANDSHAKE_TIMEOUT_S.
    squatter = create_vps(db_dsn)
    held = [TestStream(target, squatter.token) for _ in range(PER_IP)]
    await _until_held(limited_collector, PER_IP)

    refused = TestStream(target, None)  # anyone, token or not: the cap is checked first
    async with asyncio.timeout(5):
        assert await refused.status() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "not yet established" in await refused.details()
    await refused.close()

    # The established agent is not counted and keeps storing.
    t0 = now_ms() - 5000
    await established.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0])))
    assert (await established.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED

    # Once the half-open streams go, an agent from the same address connects.
    for stream in held:
        await stream.close()
    await _until_held(limited_collector, 0)
    late = await open_stream(limited_collector, create_vps(db_dsn).token)
    await late.close()
    await established.close()


async def _until_held(app: CollectorApp, count: int) -> None:
    """Wait until the server counts ``count`` unestablished streams from here."""
    assert app.service is not None
    pending = app.service.unestablished
    for _ in range(200):
        if pending.held("127.0.0.1") == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pending.held('127.0.0.1')} unestablished streams held, expected {count}")
