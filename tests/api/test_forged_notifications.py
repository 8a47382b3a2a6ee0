"""Any database role can NOTIFY: the read-only ``tidewatch_reader`` forges every
notification the services LISTEN for, and nothing happens.

Each forgery is followed by the genuine event on the same channel, delivered
after it (notifications arrive in commit order): the first effect seen must be
the genuine one, so a forgery that had been acted on would show up first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import grpc
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from collector.app import CollectorApp
from common.channels import (
    AGENT_CONFIG_CHANNEL,
    COLLECTOR_CHANNELS,
    COMMANDS_CHANNEL,
    LIVE_CHANNEL,
    TOKEN_ROTATED_CHANNEL,
)
from common.live_signing import LIVE_KEY_QUERY, sign_live_payload
from common.tokens import AGENT_TOKEN_PREFIX, issue_token
from proto import agent_pb2
from tests.api.conftest import SignedIn, subscribe_when_listening
from tests.conftest import create_vps
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_ingest import open_stream
from tests.integration.test_collector_sessions import insert_command, next_or_none
from tests.reader_role import reader_login
from tests.stream_client import TestStream

pytestmark = pytest.mark.db
Client = AsyncTestClient[Litestar]


@pytest.fixture
def reader_dsn(db_dsn: str) -> Iterator[str]:
    with reader_login(db_dsn) as dsn:
        yield dsn


async def forge(reader_dsn: str, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(reader_dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


async def test_the_reader_role_is_read_only_and_cannot_read_the_signing_key(reader_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(reader_dsn, autocommit=True) as conn:
        await conn.execute("SELECT count(*) FROM host_metrics")  # what it is for
        for statement in (
            "INSERT INTO commands (vps_id, kind, request) VALUES (1, 'shell', '{}')",
            "UPDATE vps SET agent_config = '{}'",
            "SELECT agent_token_hash FROM vps",
            LIVE_KEY_QUERY,
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(statement)


async def test_forged_collector_notifications_change_nothing(
    collector: CollectorApp, db_dsn: str, reader_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)
    await _wait_for_listener(collector, db_dsn, stream)

    for channel in COLLECTOR_CHANNELS:
        for payload in (str(vps.id), "*", f"{vps.id}\n", "", "x" * 7000):
            await forge(reader_dsn, channel, payload)

    # token_rotated: the healthy agent is not cut; it still stores batches.
    t0 = now_ms() - 5000
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [t0])))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert not stream.call.done()

    # agent_config: the first config pushed is the genuine change, sent once.
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "UPDATE vps SET agent_config = '{\"snapshot_interval_ms\": 4321}' WHERE id = %s", (vps.id,)
        )
        conn.execute("SELECT pg_notify(%s, %s)", (AGENT_CONFIG_CHANNEL, str(vps.id)))
    pushed = await stream.next("agent_config", within_s=10)
    assert pushed.agent_config.snapshot_interval_ms == 4321
    await forge(reader_dsn, AGENT_CONFIG_CHANNEL, str(vps.id))
    assert await next_or_none(stream, "agent_config", 1.0) is None, "an unchanged config was pushed again"

    # commands: nothing is dispatched until a real pending row exists.
    command_id = insert_command(db_dsn, vps.id, "echo genuine")
    with psycopg.connect(db_dsn) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (COMMANDS_CHANNEL, str(vps.id)))
    first = await stream.next("command_request", within_s=10)
    assert first.command_request.command_id == command_id
    await forge(reader_dsn, COMMANDS_CHANNEL, str(vps.id))
    assert await next_or_none(stream, "command_request", 1.0) is None

    # Control: a real rotation is acted on, even when the hint comes from the reader.
    fresh = issue_token(AGENT_TOKEN_PREFIX)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "UPDATE vps SET agent_key_id = %s, agent_token_hash = %s, token_rotated_at = now() WHERE id = %s",
            (fresh.key_id, fresh.token_hash, vps.id),
        )
    await forge(reader_dsn, TOKEN_ROTATED_CHANNEL, str(vps.id))
    async with asyncio.timeout(10):
        assert await stream.status() == grpc.StatusCode.ABORTED
    assert "rotated" in await stream.details()
    await stream.close()


async def _wait_for_listener(collector: CollectorApp, db_dsn: str, stream: TestStream) -> None:
    """The collector's LISTEN connects in the background: wait until a genuine hint lands."""
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "UPDATE vps SET agent_config = '{\"batch_max_delay_ms\": 1234}' WHERE id = %s",
            (stream_vps_id(collector, stream),),
        )
    for _ in range(100):
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_notify(%s, %s)", (AGENT_CONFIG_CHANNEL, str(stream_vps_id(collector, stream)))
            )
        if await next_or_none(stream, "agent_config", 0.2) is not None:
            return
    raise AssertionError("the collector's listener never came up")


def stream_vps_id(collector: CollectorApp, stream: TestStream) -> int:
    (vps_id,) = collector.registry.held_vps_ids()
    return vps_id


async def _next_sample(ws: WebSocketTestSession) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await asyncio.to_thread(ws.receive_json, timeout=10)
        if message["type"] == "sample":
            return message


async def test_forged_live_samples_never_reach_a_viewer(
    client: Client, collector: CollectorApp, db_dsn: str, reader_dsn: str, viewer: SignedIn
) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)
    captured: list[str] = []
    async with await psycopg.AsyncConnection.connect(reader_dsn, autocommit=True) as spy:
        await spy.execute(f"LISTEN {LIVE_CHANNEL}")  # LISTEN needs no privilege either
        ws = await client.websocket_connect("/api/live", params={"token": viewer.token})
        with ws:
            assert ws.receive_json(timeout=5)["type"] == "welcome"
            assert subscribe_when_listening(ws, {"type": "subscribe", "vps_ids": [vps.id]})["listening"]

            t0 = now_ms() - 10_000
            sequence = 0

            async def genuine(at_ms: int) -> dict[str, Any]:
                nonlocal sequence
                sequence += 1
                batch = performance_batch(sequence, [at_ms])
                await stream.send(agent_pb2.MessageToServer(performance_batch=batch))
                await stream.acks(1)
                sample = await _next_sample(ws)
                assert sample["sample"]["time_ms"] == at_ms, "a forged sample reached the viewer"
                return sample

            await genuine(t0)
            async with asyncio.timeout(10):
                async for notify in spy.notifies():
                    captured.append(notify.payload)
                    break
            await genuine(t0 + 1000)

            body = {"vps_id": vps.id, "time_ms": now_ms(), "cpu_percent": 99.9}
            plain = json.dumps(body)
            for forged in (
                plain,  # unsigned, the pre-fix format
                sign_live_payload(b"k" * 48, plain.encode()),  # signed with a guessed key
                "v1.." + plain,
                captured[0][: captured[0].rindex("}")] + ',"cpu_percent":99.9}',  # tampered
                captured[0],  # a genuine payload replayed after a newer one
            ):
                await forge(reader_dsn, LIVE_CHANNEL, forged)
            await genuine(t0 + 2000)  # the next sample the viewer sees is the genuine one
    await stream.close()


async def test_forged_status_changes_never_reach_a_viewer(
    client: Client, collector: CollectorApp, db_dsn: str, reader_dsn: str, viewer: SignedIn
) -> None:
    vps = create_vps(db_dsn)  # never connected: offline
    ws = await client.websocket_connect("/api/live", params={"token": viewer.token})
    with ws:
        assert ws.receive_json(timeout=5)["type"] == "welcome"
        assert subscribe_when_listening(ws, {"type": "subscribe", "vps_ids": [vps.id]})["listening"]
        body = {"kind": "status", "vps_id": vps.id, "time_ms": now_ms(), "online": False, "reason": "forged"}
        plain = json.dumps(body)
        for forged in (plain, sign_live_payload(b"k" * 48, plain.encode()), "v1.." + plain):
            await forge(reader_dsn, LIVE_CHANNEL, forged)
        # The genuine change, delivered after the forgeries: the agent connects.
        stream = await open_stream(collector, vps.token)
        while (message := await asyncio.to_thread(ws.receive_json, timeout=10))["type"] != "status":
            pass
        assert message["vps_id"] == vps.id
        assert message["online"] is True, "a forged status reached the viewer"
        assert message["reason"] == "agent connected"
    await stream.close()
