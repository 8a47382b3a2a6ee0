"""The per-IP cap on connections without an agent stream (issue 10, item 15): raw TCP
connections past the cap are closed, those under it and established agents are not."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import AsyncIterator

import pytest

from collector.app import CollectorApp
from collector.channelz_count import ChannelzCounter
from collector.peer_limits import peer_address
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_ingest import open_stream

CAP = 4
EXCESS = 6


@pytest.fixture
async def capped_collector(db_dsn: str) -> AsyncIterator[CollectorApp]:
    # A long handshake deadline: only the cap may close the raw connections here.
    app = CollectorApp(
        collector_settings(unauthenticated_connections_per_ip=CAP, connection_handshake_s=300.0), db_dsn
    )
    await app.start()
    yield app
    await app.stop(2.0)


def _connect_from(source_ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source_ip, 0))
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def _hung_up(sockets: list[socket.socket]) -> list[socket.socket]:
    """Those of ``sockets`` the server has closed (readable with EOF or reset)."""
    readable, _, _ = select.select(sockets, [], [], 0)
    gone = []
    for sock in readable:
        try:
            if sock.recv(65536) == b"":
                gone.append(sock)
        except (ConnectionResetError, BlockingIOError):
            gone.append(sock)
    return gone


async def _sweeps_pass(app: CollectorApp, count: int) -> None:
    start = app.connection_cap.sweeps
    for _ in range(600):
        if app.connection_cap.sweeps >= start + count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the connection cap swept {app.connection_cap.sweeps - start} times in 30 s")


@pytest.mark.db
async def test_raw_connections_past_the_cap_are_closed_and_agents_keep_streaming(
    capped_collector: CollectorApp, db_dsn: str
) -> None:
    port = capped_collector.port
    # An agent from the flooding address itself: its connection carries a stream, so it is spared.
    agent = await open_stream(capped_collector, create_vps(db_dsn).token)
    elsewhere = [_connect_from("127.0.0.2", port) for _ in range(CAP)]
    flood = [_connect_from("127.0.0.1", port) for _ in range(CAP + EXCESS)]
    try:
        closed: list[socket.socket] = []
        deadline = time.monotonic() + 30
        while len(closed) < EXCESS and time.monotonic() < deadline:
            closed += _hung_up([s for s in flood if s not in closed])
            await asyncio.sleep(0.05)
        assert len(closed) == EXCESS, f"{len(closed)} of the flood closed, expected {EXCESS}"
        # The cheap count the sweep starts from sees them (grpcio's channelz, a private module).
        counted = ChannelzCounter().connected_ips()
        assert counted is not None and counted["127.0.0.2"] >= CAP
        await _sweeps_pass(capped_collector, 2)
        # Nothing more: the cap's worth from 127.0.0.1, and everything from 127.0.0.2, stays open.
        assert _hung_up([s for s in flood if s not in closed]) == []
        assert _hung_up(elsewhere) == []
        assert capped_collector.connection_cap.closed == EXCESS

        t0 = now_ms() - 5000
        await agent.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0])))
        assert (await agent.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    finally:
        for sock in flood + elsewhere:
            sock.close()
        await agent.close()


def test_peer_strings_become_the_addresses_sockets_report() -> None:
    assert peer_address("ipv4:127.0.0.1:5050") == ("127.0.0.1", 5050)
    assert peer_address("ipv6:[::1]:5050") == ("::1", 5050)
    assert peer_address("ipv6:%5B::ffff:10.0.0.1%5D:7") == ("10.0.0.1", 7)
    assert peer_address("unix:/tmp/sock") is None
