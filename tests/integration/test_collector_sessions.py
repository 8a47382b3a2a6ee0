"""Agent sessions against a real collector and database: tokens, presence, commands, config, backpressure."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import psycopg
import pytest

from collector.app import CollectorApp
from collector.sessions import SessionRegistry
from common.api_models.commands import COMMAND_UPDATES_CHANNEL
from common.tokens import AGENT_TOKEN_PREFIX, issue_token
from proto import agent_pb2
from tests.conftest import collector_settings, create_vps
from tests.factories import now_ms, performance_batch
from tests.integration.test_collector_ingest import count, open_stream
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db

StartCollector = Callable[..., Awaitable[CollectorApp]]


@pytest.fixture
async def start_collector(db_dsn: str) -> AsyncIterator[StartCollector]:
    """Start collectors with setting overrides; all are stopped after the test."""
    apps: list[CollectorApp] = []

    async def start(**overrides: Any) -> CollectorApp:
        app = CollectorApp(collector_settings(**overrides), db_dsn)
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop(2.0)


async def notify_until(
    dsn: str, channel: str, payload: str, check: Callable[[], Awaitable[bool]], timeout_s: float = 8.0
) -> None:
    """NOTIFY until ``check`` passes: the collector's listener may still be connecting."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        deadline = time.monotonic() + timeout_s
        while True:
            await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
            if await check():
                return
            assert time.monotonic() < deadline, f"no effect from NOTIFY {channel} {payload!r}"


async def wait_until(check: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def query(dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def status_events(dsn: str, vps_id: int) -> list[str]:
    rows = query(dsn, "SELECT status FROM vps_status_events WHERE vps_id = %s ORDER BY id", vps_id)
    return [r[0] for r in rows]


async def next_or_none(
    stream: TestStream, kind: str, timeout_s: float = 0.3
) -> agent_pb2.MessageToAgent | None:
    try:
        return await stream.next(kind, timeout_s)
    except TimeoutError:
        return None


# -- tokens ---------------------------------------------------------------------------------


async def test_rotating_the_token_cuts_the_old_stream_and_refuses_the_old_token(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    target = f"127.0.0.1:{collector.port}"
    old_stream = await open_stream(collector, vps.token)

    new = issue_token(AGENT_TOKEN_PREFIX)
    query(
        db_dsn,
        "UPDATE vps SET agent_key_id = %s, agent_token_hash = %s, token_rotated_at = now()"
        " WHERE id = %s RETURNING id",
        new.key_id,
        new.token_hash,
        vps.id,
    )

    async def stream_ended() -> bool:
        await asyncio.sleep(0.2)
        return bool(old_stream.call.done())

    await notify_until(db_dsn, "tidewatch_token_rotated", str(vps.id), stream_ended)
    assert await old_stream.status() == grpc.StatusCode.ABORTED
    assert "rotated" in await old_stream.details()
    await old_stream.close()

    again = TestStream(target, vps.token)
    await again.send(handshake())
    assert await again.status() == grpc.StatusCode.UNAUTHENTICATED
    await again.close()

    fresh = await open_stream(collector, new.token)
    await fresh.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [now_ms() - 1000])))
    assert (await fresh.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await fresh.close()


# -- online and offline ---------------------------------------------------------------------


async def test_presence_events_follow_heartbeat_timeouts_without_flapping(
    start_collector: StartCollector, db_dsn: str
) -> None:
    app = await start_collector(offline_after_s=2.0)
    vps = create_vps(db_dsn)

    def online() -> bool:
        return bool(query(db_dsn, "SELECT online FROM vps WHERE id = %s", vps.id)[0][0])

    stream = await open_stream(app, vps.token)
    assert online()
    assert status_events(db_dsn, vps.id) == ["online"]
    await stream.send(agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=now_ms())))
    await stream.close()

    # Closing the stream alone is no outage; silence for offline_after_s is.
    await asyncio.sleep(0.5)
    assert online()
    await wait_until(lambda: not online(), timeout_s=8, what="the offline transition")
    for _ in range(4):
        await app.registry.housekeeping_once()
        await asyncio.sleep(0.3)
    assert status_events(db_dsn, vps.id) == ["online", "offline"]
    reason = query(
        db_dsn, "SELECT reason FROM vps_status_events WHERE vps_id = %s AND status = 'offline'", vps.id
    )
    assert "no heartbeat for 2 s" in reason[0][0]

    stream = await open_stream(app, vps.token)
    assert online()
    for _ in range(3):
        await stream.send(
            agent_pb2.MessageToServer(heartbeat=agent_pb2.Heartbeat(timestamp_unix_ms=now_ms()))
        )
        await app.registry.housekeeping_once()
    assert status_events(db_dsn, vps.id) == ["online", "offline", "online"]
    await stream.close()


async def test_housekeeping_announces_the_collector_at_once_not_after_its_first_interval(
    collector: CollectorApp, db_dsn: str
) -> None:
    """The heartbeat tells the alerts a collector is running: one restarted before its
    first interval was up had written none, and "no collector is running" paged."""
    collector_id = f"fresh-{uuid.uuid4().hex[:8]}"
    registry = SessionRegistry(collector.db, collector_settings(collector_id=collector_id))
    running = asyncio.create_task(registry.run_housekeeping(3600.0))
    try:
        await wait_until(
            lambda: bool(
                query(db_dsn, "SELECT 1 FROM collector_instances WHERE collector_id = %s", collector_id)
            ),
            timeout_s=30,
            what="the new collector's first heartbeat",
        )
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_housekeeping_does_not_wait_on_ingest_holding_its_vps_rows(
    start_collector: StartCollector, db_dsn: str
) -> None:
    """An ingest flush writing a VPS's container events holds a KEY SHARE lock on its vps
    row (the foreign key) until it commits. Housekeeping's update of the heard VPSes must not wait
    for it: with FOR UPDATE it did, and with two flushes holding rows in another order the
    two deadlocked ("session housekeeping failed: deadlock detected" under overload)."""
    app = await start_collector()
    vps = create_vps(db_dsn)
    stream = await open_stream(app, vps.token)
    session = app.registry.get(vps.id)
    assert session is not None
    app.registry.heard_from(session)
    with psycopg.connect(db_dsn) as flush:  # as a flush mid-transaction: not committed yet
        flush.execute(
            "INSERT INTO container_events (time, vps_id, container_id, event) VALUES (now(), %s, 'c1', 'started')",
            (vps.id,),
        )
        async with asyncio.timeout(10):
            await app.registry.housekeeping_once()
        flush.rollback()
    seen = query(
        db_dsn, "SELECT online, last_seen > now() - interval '1 minute' FROM vps WHERE id = %s", vps.id
    )
    assert seen == [(True, True)]
    await stream.close()


# -- commands -------------------------------------------------------------------------------


def insert_command(dsn: str, vps_id: int, command_line: str, *, expires_in: str | None = None) -> str:
    """A pending shell command; ``expires_in`` (an interval, e.g. ``'-1 minute'``) sets its expiry."""
    command_id = str(uuid.uuid4())
    query(
        dsn,
        "INSERT INTO commands (id, vps_id, kind, request, status, expires_at)"
        " VALUES (%s, %s, 'shell', jsonb_build_object('shell', jsonb_build_object('commandLine', %s::text)),"
        " 'pending', now() + %s::interval) RETURNING id",
        command_id,
        vps_id,
        command_line,
        expires_in,
    )
    return command_id


def command_row(dsn: str, command_id: str) -> tuple[Any, ...]:
    return query(
        dsn,
        "SELECT status, stdout, stderr, exit_code, finished_at IS NOT NULL FROM commands WHERE id = %s",
        command_id,
    )[0]


async def test_commands_are_relayed_and_their_output_recorded(collector: CollectorApp, db_dsn: str) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)
    command_id = insert_command(db_dsn, vps.id, "echo hi")
    received: list[agent_pb2.CommandRequest] = []

    async def got_request() -> bool:
        if (message := await next_or_none(stream, "command_request")) is not None:
            received.append(message.command_request)
        return bool(received)

    await notify_until(db_dsn, "tidewatch_commands", str(vps.id), got_request)
    assert received[0].command_id == command_id
    assert received[0].shell.command_line == "echo hi"
    assert command_row(db_dsn, command_id)[0] == "dispatched"

    for status, chunk, stdout in (
        (agent_pb2.COMMAND_STATUS_RUNNING, 0, b"hi\n"),
        (agent_pb2.COMMAND_STATUS_SUCCEEDED, 1, b"done\n"),
    ):
        await stream.send(
            agent_pb2.MessageToServer(
                command_response=agent_pb2.CommandResponse(
                    command_id=command_id, status=status, chunk_index=chunk, stdout=stdout, exit_code=0
                )
            )
        )
    await wait_until(lambda: command_row(db_dsn, command_id)[0] == "succeeded", what="the final status")
    assert command_row(db_dsn, command_id) == ("succeeded", "hi\ndone\n", "", 0, True)
    await stream.close()


async def test_an_agent_cannot_answer_another_vps_command(collector: CollectorApp, db_dsn: str) -> None:
    victim, intruder = create_vps(db_dsn), create_vps(db_dsn)
    victim_command = insert_command(db_dsn, victim.id, "uptime")
    own_command = insert_command(db_dsn, intruder.id, "true")
    stream = await open_stream(collector, intruder.token)
    await stream.next("command_request")  # its own, dispatched at connect

    for command_id, stdout in ((victim_command, b"forged"), (own_command, b"")):
        await stream.send(
            agent_pb2.MessageToServer(
                command_response=agent_pb2.CommandResponse(
                    command_id=command_id, status=agent_pb2.COMMAND_STATUS_FAILED, stdout=stdout, exit_code=9
                )
            )
        )
    # Responses are handled in order: once its own is recorded, the forged one was handled too.
    await wait_until(
        lambda: command_row(db_dsn, own_command)[0] == "failed", what="the intruder's own command"
    )
    assert command_row(db_dsn, victim_command) == ("pending", "", "", None, False)
    await stream.close()


# -- agent configuration --------------------------------------------------------------------


async def test_agent_config_is_pushed_live_and_never_widens_features(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)  # handshake allows docker, shell, script, docker_control
    query(
        db_dsn,
        "UPDATE vps SET agent_config = %s::jsonb WHERE id = %s RETURNING id",
        '{"snapshot_interval_ms": 2000, "features": {"shell": false, "pty": true, "files": true}}',
        vps.id,
    )
    pushed: list[agent_pb2.AgentConfig] = []

    async def got_config() -> bool:
        if (message := await next_or_none(stream, "agent_config")) is not None:
            pushed.append(message.agent_config)
        return bool(pushed)

    await notify_until(db_dsn, "tidewatch_agent_config", str(vps.id), got_config)
    config = pushed[0]
    assert config.snapshot_interval_ms == 2000
    assert config.docker_interval_ms == collector.settings.docker_interval_ms
    features = config.features
    assert (features.docker, features.script, features.docker_control) == (True, True, True)
    assert not features.shell, "the override turned shell off"
    assert not features.pty and not features.files, "the server widened features the agent does not allow"
    await stream.close()


# -- backpressure ---------------------------------------------------------------------------


async def test_a_full_ingest_queue_refuses_with_resource_exhausted_and_loses_nothing(
    start_collector: StartCollector, db_dsn: str
) -> None:
    # One snapshot is 10 rows (1 host, 4 disks, 2 disk_io, 3 interfaces): one batch fits, two do not.
    app = await start_collector(queue_max_rows=15, queue_wait_s=1.0)
    vps = create_vps(db_dsn)
    t0 = now_ms() - 10_000
    first, second = performance_batch(1, [t0]), performance_batch(2, [t0 + 1000])
    stream = await open_stream(app, vps.token)

    # A lock on the dedup table stalls every flush: the database is "very slow".
    async with await psycopg.AsyncConnection.connect(db_dsn) as locker:
        await locker.execute("LOCK TABLE ingested_batches IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        await stream.send(agent_pb2.MessageToServer(performance_batch=first))
        await stream.send(agent_pb2.MessageToServer(performance_batch=second))
        assert await stream.status() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert 0.9 <= time.monotonic() - started < 5
        assert "ingest queue full" in await stream.details()
        await stream.close()
        await locker.rollback()

    # The agent kept both and resends them: the queued one was stored once, the refused one now.
    retry = await open_stream(app, vps.token)
    for batch in (first, second):
        await retry.send(agent_pb2.MessageToServer(performance_batch=batch))
    acks = await retry.acks(2)
    assert {acks[1].outcome, acks[2].outcome} <= {
        agent_pb2.BatchAck.OUTCOME_STORED,
        agent_pb2.BatchAck.OUTCOME_DUPLICATE,
    }
    assert count(db_dsn, "host_metrics", vps.id) == 2
    await retry.close()


async def test_a_batch_larger_than_the_whole_queue_is_admitted_when_the_queue_is_empty(
    start_collector: StartCollector, db_dsn: str
) -> None:
    app = await start_collector(queue_max_rows=15, queue_wait_s=1.0)
    vps = create_vps(db_dsn)
    stream = await open_stream(app, vps.token)
    t0 = now_ms() - 10_000
    big = performance_batch(1, [t0, t0 + 1000, t0 + 2000])  # 30 rows
    await stream.send(agent_pb2.MessageToServer(performance_batch=big))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    assert count(db_dsn, "host_metrics", vps.id) == 3
    await stream.close()


# -- the database failing while an agent connects ------------------------------------------


async def lock_waiter(dsn: str, query_start: str) -> int:
    """The pid of the collector connection running ``query_start...`` and waiting on a lock we hold."""
    for _ in range(100):
        waiting = query(
            dsn,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND starts_with(query, %s)",
            query_start,
        )
        if waiting:
            return int(waiting[0][0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the collector never ran {query_start!r}")


async def kill_collector_query_waiting_on_a_lock(dsn: str, query_start: str) -> None:
    """Terminate the collector's database connection while it waits on a lock we hold."""
    query(dsn, "SELECT pg_terminate_backend(%s)", await lock_waiter(dsn, query_start))


async def test_expiry_and_dispatch_announce_each_command_they_change(
    collector: CollectorApp, db_dsn: str
) -> None:
    """Watchers (the API's command pages) re-read a command when its id is announced."""
    vps = create_vps(db_dsn)
    stream = await open_stream(collector, vps.token)
    async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as listener:
        # Listening first: the collector's own 5 s poll may expire or dispatch them at any time.
        await listener.execute(f"LISTEN {COMMAND_UPDATES_CHANNEL}")
        stale = insert_command(db_dsn, vps.id, "date", expires_in="-1 minute")
        fresh = insert_command(db_dsn, vps.id, "hostname")
        await collector.commands.expire_queued()
        await collector.commands.dispatch_pending()
        heard: set[str] = set()
        async with asyncio.timeout(10):
            async for notify in listener.notifies():
                heard.add(notify.payload)
                if {stale, fresh} <= heard:
                    break
    assert command_row(db_dsn, stale)[0] == "expired"
    assert (await stream.next("command_request")).command_request.command_id == fresh
    await stream.close()


async def test_the_handshake_ack_comes_before_anything_dispatched_while_connecting(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    async with await psycopg.AsyncConnection.connect(db_dsn) as blocker:
        # Stall the session registration; meanwhile a command arrives and is dispatched,
        # as the NOTIFY handler or the periodic dispatch would do at any moment.
        # (NO KEY UPDATE: the command's foreign key check must not wait on it.)
        await blocker.execute("SELECT 1 FROM vps WHERE id = %s FOR NO KEY UPDATE", (vps.id,))
        await stream.send(handshake())
        await lock_waiter(db_dsn, "WITH old AS (SELECT online FROM vps")
        command_id = insert_command(db_dsn, vps.id, "date")
        await collector.commands.dispatch_pending()
        await blocker.rollback()
    first = await asyncio.wait_for(stream.received.get(), 10)
    # The agent drops a stream whose first message is not the ack; a command sent
    # ahead of it would be marked dispatched and never run.
    assert first.WhichOneof("payload") == "server_handshake_ack", first
    assert (await stream.next("command_request")).command_request.command_id == command_id
    await stream.close()


async def test_a_database_failure_while_connecting_is_unavailable_and_leaves_no_session(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    async with await psycopg.AsyncConnection.connect(db_dsn) as blocker:
        # Hold the VPS row so the collector's session registration waits on it.
        await blocker.execute("SELECT 1 FROM vps WHERE id = %s FOR UPDATE", (vps.id,))
        await stream.send(handshake())
        await kill_collector_query_waiting_on_a_lock(db_dsn, "WITH old AS (SELECT online FROM vps")
        assert await stream.status() == grpc.StatusCode.UNAVAILABLE, await stream.details()
        await blocker.rollback()
    await stream.close()
    assert collector.registry.get(vps.id) is None, "a stream that never opened is still registered"

    # So a command for this VPS waits for a live stream instead of going to the dead one.
    command_id = insert_command(db_dsn, vps.id, "hostname")
    query(db_dsn, "SELECT pg_notify('tidewatch_commands', %s)", str(vps.id))
    await collector.commands.dispatch_pending()
    assert command_row(db_dsn, command_id)[0] == "pending"
    live = await open_stream(collector, vps.token)
    assert (await live.next("command_request")).command_request.command_id == command_id
    await live.close()


async def test_a_database_failure_dispatching_commands_at_connect_keeps_the_stream(
    collector: CollectorApp, db_dsn: str
) -> None:
    vps = create_vps(db_dsn)
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    async with await psycopg.AsyncConnection.connect(db_dsn) as blocker:
        await blocker.execute("LOCK TABLE commands IN ACCESS EXCLUSIVE MODE")
        await stream.send(handshake())
        await kill_collector_query_waiting_on_a_lock(
            db_dsn, "WITH claimed AS (UPDATE commands SET status = 'dispatched'"
        )
        await blocker.rollback()
    assert (await stream.next("server_handshake_ack")).server_handshake_ack.authenticated
    await stream.send(agent_pb2.MessageToServer(performance_batch=performance_batch(1, [now_ms() - 1000])))
    assert (await stream.acks(1))[1].outcome == agent_pb2.BatchAck.OUTCOME_STORED
    await stream.close()
