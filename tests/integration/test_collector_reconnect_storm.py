"""A fleet's reconnect storm: calls that pile up in gRPC core before the collector takes them.

The Python server takes one call from gRPC core per event-loop turn. While its loop
is busy (a storm of handshakes), new calls wait in core; past core's default of
1,000 waiting calls core cancelled new ones at random, and agents read CANCELLED,
or INTERNAL ("Internal error from Core") when the cancel met their handshake write.
Here a real collector runs on its own event loop in a thread; that loop is held
busy while 1,500 agents open their streams (100 per TCP connection), so every call
waits in core, and every one must still get its handshake ack.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from collector.app import CollectorApp
from collector.auth import token_digest
from proto import agent_pb2, agent_pb2_grpc
from tests.conftest import collector_settings

pytestmark = pytest.mark.db

AGENTS = 1_500
STREAMS_PER_CONNECTION = 100
BUSY_S = 3.0  # the collector's loop is held this long while the storm arrives
ACK_LIMIT_S = 90.0  # generous: a slow, shared 2-core machine


def _fleet(dsn: str, count: int) -> list[str]:
    """``count`` VPS rows whose token digests are stored, as after their first handshake."""
    tokens = []
    with (
        psycopg.connect(dsn) as conn,
        conn.cursor().copy(
            "COPY vps (name, ip_address, agent_key_id, agent_token_hash, agent_token_digest) FROM STDIN"
        ) as copy,
    ):
        for i in range(count):
            key_id = secrets.token_hex(8)
            token = f"twa_{key_id}.{secrets.token_urlsafe(32)}"
            tokens.append(token)
            # The argon2 hash is never consulted while the digest is stored.
            copy.write_row((f"storm-{i}", "127.0.0.1", key_id, "unused", token_digest(token)))
    return tokens


class _CollectorThread:
    """A real collector on its own event loop, so the test can keep that loop busy."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        # One IP stands for a fleet here: the per-IP limits are the subject of other tests.
        app = CollectorApp(
            collector_settings(
                unestablished_streams_per_ip=1_000_000, unauthenticated_connections_per_ip=1_000_000
            ),
            self._dsn,
        )
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.port = await app.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await app.stop(2.0)

    def __enter__(self) -> _CollectorThread:
        self._thread.start()
        assert self._ready.wait(60), "the collector did not start within 60 s"
        return self

    def __exit__(self, *_: object) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def hold_loop_busy(self, seconds: float) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(time.sleep, seconds)


@pytest.fixture
def storm_collector(db_dsn: str) -> Iterator[_CollectorThread]:
    with _CollectorThread(db_dsn) as collector:
        yield collector


async def _handshake(channel: grpc.aio.Channel, token: str, outcomes: Counter[str]) -> None:
    stub = agent_pb2_grpc.AgentCommunicationServiceStub(channel)  # type: ignore[no-untyped-call]
    call = stub.EstablishCommunicationStream(metadata=(("authorization", f"Bearer {token}"),))
    hello = agent_pb2.AgentHandshake(agent_version="storm-test", sequence_epoch=1)
    try:
        await call.write(agent_pb2.MessageToServer(agent_handshake=hello))
        reply = await call.read()
    except grpc.aio.AioRpcError as exc:
        outcomes[f"{exc.code().name}: {exc.details()}"] += 1
        return
    if reply is grpc.aio.EOF:
        outcomes[f"{(await call.code()).name}: {await call.details()}"] += 1
    elif reply.HasField("server_handshake_ack"):
        outcomes["acknowledged"] += 1
    else:
        outcomes[f"unexpected first message {reply.WhichOneof('payload')}"] += 1


async def test_every_handshake_of_a_storm_queued_in_grpc_core_is_acknowledged(
    db_dsn: str, storm_collector: _CollectorThread
) -> None:
    tokens = _fleet(db_dsn, AGENTS)
    target = f"127.0.0.1:{storm_collector.port}"
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(-(-AGENTS // STREAMS_PER_CONNECTION))
    ]
    outcomes: Counter[str] = Counter()
    try:
        # Connected first: the storm is calls on open connections, as after a collector restart
        # agents' new connections are up before their first stream.
        await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 60)
        storm_collector.hold_loop_busy(BUSY_S)
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    _handshake(channels[i // STREAMS_PER_CONNECTION], token, outcomes)
                    for i, token in enumerate(tokens)
                )
            ),
            ACK_LIMIT_S,
        )
    finally:
        for channel in channels:
            await channel.close()
    assert outcomes == Counter({"acknowledged": AGENTS})
