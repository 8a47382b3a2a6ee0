"""The collector's side of clock skew, over a real gRPC stream and database: probes are
answered, batches are corrected and keep their identity, the skew and refused
batches are recorded per VPS and exported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from prometheus_client import REGISTRY

from collector.app import CollectorApp
from proto import agent_pb2
from tests.conftest import Vps
from tests.factories import now_ms, performance_batch
from tests.stream_client import TestStream, handshake

pytestmark = pytest.mark.db

AHEAD_MS = 600_000  # the agent's clock is 10 minutes ahead
Outcome = agent_pb2.BatchAck.Outcome


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def host_times(dsn: str, vps_id: int) -> list[datetime]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT time FROM host_metrics WHERE vps_id = %s ORDER BY time", (vps_id,))
        return [r[0] for r in rows.fetchall()]


def vps_health(dsn: str, vps_id: int) -> tuple[object, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT clock_offset_ms, clock_rtt_ms, rejected_batches_total, last_rejection"
            " FROM vps_agent_health WHERE vps_id = %s",
            (vps_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def heartbeat(offset_ms: int, probe_id: int = 0) -> agent_pb2.MessageToServer:
    return agent_pb2.MessageToServer(
        heartbeat=agent_pb2.Heartbeat(
            timestamp_unix_ms=now_ms() + AHEAD_MS,
            clock_offset_ms=offset_ms,
            clock_rtt_ms=3,
            clock_offset_known=True,
            clock_probe_id=probe_id,
        )
    )


async def test_skewed_agent_is_corrected_recorded_and_exported(
    collector: CollectorApp, db_dsn: str, vps: Vps
) -> None:
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    hello = handshake()
    hello.agent_handshake.agent_time_unix_ms = now_ms() + AHEAD_MS
    before_ms = now_ms()
    await stream.send(hello)
    ack = (await stream.next("server_handshake_ack")).server_handshake_ack
    assert before_ms <= ack.server_time_unix_ms <= now_ms()

    # A probe is answered with when it arrived and when the answer left.
    sent_ms = now_ms()
    await stream.send(heartbeat(-AHEAD_MS, probe_id=41))
    reply = (await stream.next("heartbeat_request")).heartbeat_request
    assert reply.probe_id == 41
    assert sent_ms <= reply.probe_received_unix_ms <= reply.server_time_unix_ms <= now_ms()

    # Taken before the agent had measured its clock: corrected with the reported offset.
    t0 = now_ms() - 10_000
    unstamped = performance_batch(1, [t0 + AHEAD_MS, t0 + AHEAD_MS + 1000])
    await stream.send(agent_pb2.MessageToServer(performance_batch=unstamped))
    # Stamped by the agent with the offset it believed when sampling.
    stamped = performance_batch(2, [t0 + AHEAD_MS + 2000])
    stamped.clock_offset_ms, stamped.clock_offset_known = -AHEAD_MS - 7, True
    await stream.send(agent_pb2.MessageToServer(performance_batch=stamped))
    acks = await stream.acks(2)
    assert {s: a.outcome for s, a in acks.items()} == {1: Outcome.OUTCOME_STORED, 2: Outcome.OUTCOME_STORED}
    assert host_times(db_dsn, vps.id) == [at(t0), at(t0 + 1000), at(t0 + 1993)]

    # The estimate moves; a resent batch is still recognised by its identity.
    await stream.send(heartbeat(-AHEAD_MS - 400))
    await stream.send(agent_pb2.MessageToServer(performance_batch=unstamped))
    assert (await stream.acks(1))[1].outcome == Outcome.OUTCOME_DUPLICATE
    assert len(host_times(db_dsn, vps.id)) == 3

    # A batch refused for good is counted for this VPS.
    bad = performance_batch(3, [t0 + AHEAD_MS + 3000])
    bad.snapshots[0].cpu_percent = 250.0
    bad.clock_offset_ms, bad.clock_offset_known = -AHEAD_MS, True
    await stream.send(agent_pb2.MessageToServer(performance_batch=bad))
    assert (await stream.acks(1))[3].outcome == Outcome.OUTCOME_REJECTED

    labels = {"vps_id": str(vps.id)}
    gauge = REGISTRY.get_sample_value("tidewatch_collector_agent_clock_offset_seconds", labels)
    assert gauge == pytest.approx(-(AHEAD_MS + 400) / 1000)
    assert REGISTRY.get_sample_value("tidewatch_collector_agent_rejected_batches_total", labels) == 1.0

    await collector.registry.housekeeping_once()
    offset, rtt, rejected, reason = vps_health(db_dsn, vps.id)
    assert (offset, rtt, rejected) == (-AHEAD_MS - 400, 3, 1)
    assert isinstance(reason, str) and "cpu_percent" in reason
    await stream.close()


async def test_absurd_clock_reports_cannot_block_housekeeping(
    collector: CollectorApp, db_dsn: str, vps: Vps
) -> None:
    stream = TestStream(f"127.0.0.1:{collector.port}", vps.token)
    await stream.send(handshake())
    await stream.next("server_handshake_ack")
    absurd = agent_pb2.Heartbeat(clock_offset_ms=-(2**63), clock_rtt_ms=2**32 - 1, clock_offset_known=True)
    await stream.send(agent_pb2.MessageToServer(heartbeat=absurd))
    deadline = asyncio.get_running_loop().time() + 10
    while (session := collector.registry.get(vps.id)) is None or session.clock.offset_ms != -(2**63):
        assert asyncio.get_running_loop().time() < deadline, "heartbeat not seen"
        await asyncio.sleep(0.05)
    await collector.registry.housekeeping_once()
    offset, rtt, _, _ = vps_health(db_dsn, vps.id)
    assert (offset, rtt) == (-(2**63), 2**31 - 1)
    await stream.close()
