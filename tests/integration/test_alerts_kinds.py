"""Each rule kind through the real evaluator and database: long thresholds read the
rollups, silences mute, repeats follow the policy and stop on acknowledgement,
traffic quota warnings, disk-full prediction and renewal reminders."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts.evaluator import evaluate_once
from alerts.sender import send_next
from alerts.settings import AlertsSettings
from tests.alert_receivers import SmtpReceiver
from tests.conftest import create_vps
from tests.integration.test_alerts_evaluator import email_channel, execute, insert_cpu, rule
from tests.traffic_cycles import reset_day_some_days_ago

pytestmark = pytest.mark.db

SETTINGS = AlertsSettings(sample_slack_s=5.0)
GIB = 1024**3


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


async def execute_off_loop(dsn: str, query: str, *params: object) -> None:
    """:func:`execute` in a thread: a statement waiting on a row lock that an in-process
    collector's housekeeping holds must not block the loop that transaction needs to commit."""
    await asyncio.to_thread(execute, dsn, query, *params)


async def run_pass(dsn: str) -> None:
    """One evaluation, then send whatever is due."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        assert await evaluate_once(conn, SETTINGS)
        while await send_next(conn, SETTINGS):
            pass


def events(dsn: str, rule_id: int) -> list[tuple[Any, ...]]:
    return execute(
        dsn, "SELECT target_key, resolved_at IS NOT NULL, value, summary FROM alert_events WHERE rule_id = %s"
        " ORDER BY id", rule_id,
    )  # fmt: skip


def deliveries(dsn: str, rule_id: int) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in execute(
            dsn,
            "SELECT d.transition, d.status FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
            " WHERE e.rule_id = %s ORDER BY d.id",
            rule_id,
        )
    ]


async def test_a_two_hour_duration_reads_the_rollup(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    rule_id = rule(db_dsn, email_channel(db_dsn, smtp), kind="threshold", scope_vps_id=vps.id,
                   metric="cpu_percent", comparator=">", threshold=80.0, duration_s=7200.0)  # fmt: skip
    since = datetime.now(UTC) - timedelta(hours=3)
    insert_cpu(db_dsn, vps.id, 90.0, 3 * 3600)
    await run_pass(db_dsn)
    assert events(db_dsn, rule_id) == []  # the rollup is not refreshed yet: no data, no alert
    execute(db_dsn, "SELECT tw_record_late_data('host_metrics'::regclass, %s)", since)
    execute(db_dsn, "SELECT tw_refresh_rollup('host_metrics_1m', '15 minutes')")
    await run_pass(db_dsn)
    assert [(k, resolved) for k, resolved, _, _ in events(db_dsn, rule_id)] == [(f"vps:{vps.id}", False)]


async def test_silences_mute_and_repeats_stop_on_acknowledgement(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    channel = email_channel(db_dsn, smtp)
    muted = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="load_1", threshold=0.1)
    repeating = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="load_5", threshold=0.1,
                     repeat_every_s=60.0)  # fmt: skip
    now = datetime.now(UTC)
    execute(db_dsn, "INSERT INTO alert_silences (rule_id, starts_at, ends_at) VALUES (%s, %s, %s)",
            muted, now - timedelta(minutes=1), now + timedelta(hours=1))  # fmt: skip
    insert_cpu(db_dsn, vps.id, 10.0, 10)  # load_1 0.5, load_5 0.4
    await run_pass(db_dsn)
    assert deliveries(db_dsn, muted) == [("open", "suppressed")]
    assert deliveries(db_dsn, repeating) == [("open", "sent")]
    # Pretend the last notification went out two minutes ago: one repeat, then acknowledge.
    execute(db_dsn, "UPDATE alert_events SET last_notified_at = now() - interval '2 minutes' WHERE rule_id = %s",
            repeating)  # fmt: skip
    insert_cpu(db_dsn, vps.id, 10.0, 2)
    await run_pass(db_dsn)
    await run_pass(db_dsn)
    assert deliveries(db_dsn, repeating) == [("open", "sent"), ("repeat:1", "sent")]
    execute(db_dsn, "UPDATE alert_events SET acknowledged_at = now(),"
            " last_notified_at = now() - interval '2 minutes' WHERE rule_id = %s", repeating)  # fmt: skip
    insert_cpu(db_dsn, vps.id, 10.0, 2)
    await run_pass(db_dsn)
    assert deliveries(db_dsn, repeating) == [("open", "sent"), ("repeat:1", "sent")]


async def test_traffic_quota_warns_at_each_percentage(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    # The cycle began days ago, so all 12 hourly samples below fall in it whatever the date.
    reset = reset_day_some_days_ago(datetime.now(UTC).date())
    execute(db_dsn, "UPDATE vps SET traffic_quota_bytes = %s, traffic_quota_direction = 'out',"
            " traffic_warn_percents = '{50,90}', traffic_reset_day = %s, traffic_timezone = 'UTC' WHERE id = %s",
            100 * GIB, reset.day, vps.id)  # fmt: skip
    rule_id = rule(db_dsn, email_channel(db_dsn, smtp), kind="traffic", scope_vps_id=vps.id)
    # 60 GiB out this cycle (12 samples of 5 GiB in the last hours).
    execute(db_dsn, "INSERT INTO network_metrics SELECT t, %s, 'eth0', 0, 0, 0, 0, 0, 0, 0, 0, 1, %s"
            " FROM generate_series(now() - interval '11 hours', now(), interval '1 hour') AS t",
            vps.id, 5 * GIB)  # fmt: skip
    await run_pass(db_dsn)
    found = events(db_dsn, rule_id)
    assert [(k, resolved) for k, resolved, _, _ in found] == [(f"vps:{vps.id}/traffic>=50%", False)]
    assert found[0][2] == pytest.approx(60.0)


async def test_disk_full_prediction_fires_for_a_filling_mount(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    rule_id = rule(db_dsn, email_channel(db_dsn, smtp), kind="disk_full", scope_vps_id=vps.id,
                   params={"horizon_hours": 24})  # fmt: skip
    # 100 GiB disk at 50 GiB now, growing 1 GiB an hour: full in 50 hours; /data fills in 10.
    execute(
        db_dsn,
        "INSERT INTO disk_metrics SELECT t, %s, m.mount, 'vda', 'ext4', %s,"
        " (m.now_used - m.per_hour * extract(epoch FROM now() - t) / 3600)::bigint, 0, 100, 10"
        " FROM generate_series(now() - interval '5 hours', now(), interval '1 minute') AS t,"
        " (VALUES ('/', %s::float8, %s::float8), ('/data', %s::float8, %s::float8)) AS m (mount, now_used, per_hour)",
        vps.id, 100 * GIB, 50.0 * GIB, 1.0 * GIB, 90.0 * GIB, 1.0 * GIB,
    )  # fmt: skip
    await run_pass(db_dsn)
    found = events(db_dsn, rule_id)
    assert [k for k, _, _, _ in found] == [f"vps:{vps.id}//data"]
    assert found[0][2] == pytest.approx(10.0, rel=0.1)


async def test_renewal_reminder_before_expiry_resolves_when_renewed(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    name = f"renew-{secrets.token_hex(3)}"
    rule_id = rule(
        db_dsn,
        email_channel(db_dsn, smtp),
        name=name,
        kind="renewal",
        scope_vps_id=vps.id,
        params={"days_before": 7},
    )
    # current_date: the evaluator counts days on the database's calendar, not this process's.
    execute(db_dsn, "INSERT INTO vps_billing (vps_id, provider, price, currency, expires_on) VALUES"
            " (%s, 'Hetzner', 4.5, 'EUR', current_date + 3)", vps.id)  # fmt: skip
    await run_pass(db_dsn)
    found = [e for e in events(db_dsn, rule_id) if e[0] == f"vps:{vps.id}"]
    assert len(found) == 1 and found[0][2] == 3.0 and "4.50 EUR" in found[0][3]
    execute(db_dsn, "UPDATE vps_billing SET expires_on = expires_on + 30 WHERE vps_id = %s", vps.id)
    await run_pass(db_dsn)
    assert [e[1] for e in events(db_dsn, rule_id) if e[0] == f"vps:{vps.id}"] == [True]
    assert [s.split(":")[0] for s in smtp.subjects() if name in s] == [
        f"[FIRING] {name}",
        f"[RESOLVED] {name}",
    ]


async def test_container_state_generic_metric_and_mount_items(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    channel = email_channel(db_dsn, smtp)
    stopped = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="container_not_running",
                   duration_s=10.0)  # fmt: skip
    flapping = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="container_restarting",
                    threshold=2.0)  # fmt: skip
    queue = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="generic:queue_depth",
                 metric_labels={"queue": "mail"}, comparator=">=", threshold=100.0)  # fmt: skip
    root = rule(db_dsn, channel, kind="threshold", scope_vps_id=vps.id, metric="disk_used_percent",
                metric_labels={"mountpoint": "/"}, threshold=90.0)  # fmt: skip
    execute(db_dsn, "INSERT INTO containers (vps_id, container_id, name, image, state, status, finished_at,"
            " started_at) VALUES (%s, 'c1', 'web', 'nginx', 'exited', 'Exited (1)', now() - interval '1 minute',"
            " now() - interval '1 hour'), (%s, 'c2', 'worker', 'app', 'running', 'Up', NULL,"
            " now() - interval '1 hour')", vps.id, vps.id)  # fmt: skip
    execute(db_dsn, "INSERT INTO container_events (time, vps_id, container_id, event) SELECT now() - interval"
            " '1 minute' * g, %s, 'c2', 'restarted' FROM generate_series(1, 3) AS g", vps.id)  # fmt: skip
    execute(db_dsn, "INSERT INTO generic_metrics SELECT t, %s, 'queue_depth', %s::jsonb, 150 FROM"
            " generate_series(now() - interval '10 seconds', now(), interval '1 second') AS t",
            vps.id, '{"queue": "mail", "host": "a"}')  # fmt: skip
    execute(db_dsn, "INSERT INTO disk_metrics SELECT t, %s, m, 'vda', 'ext4', 100, 95, 5, 10, 1 FROM"
            " generate_series(now() - interval '10 seconds', now(), interval '1 second') AS t,"
            " unnest(ARRAY['/', '/data']) AS m", vps.id)  # fmt: skip
    await run_pass(db_dsn)
    assert [e[0] for e in events(db_dsn, stopped)] == [f"vps:{vps.id}/web"]
    assert [(e[0], e[2]) for e in events(db_dsn, flapping)] == [(f"vps:{vps.id}/worker", 3.0)]
    assert [e[0] for e in events(db_dsn, queue)] == [f'vps:{vps.id}/{{"host": "a", "queue": "mail"}}']
    assert [e[0] for e in events(db_dsn, root)] == [f"vps:{vps.id}//"]


async def test_collector_down_then_fleet_outage_are_single_incidents(db_dsn: str, smtp: SmtpReceiver) -> None:
    label = secrets.token_hex(4)
    members = [create_vps(db_dsn) for _ in range(3)]
    for vps in members:
        execute(db_dsn, "UPDATE vps SET labels = %s, last_seen = now() - interval '1 hour' WHERE id = %s",
                f'{{"dc": "{label}"}}', vps.id)  # fmt: skip
    rule_id = rule(db_dsn, email_channel(db_dsn, smtp), kind="offline", scope_labels={"dc": label},
                   params={"grace_s": 1})  # fmt: skip
    settings = AlertsSettings(collector_stale_s=1.0)

    async def evaluate() -> None:
        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as conn:
            assert await evaluate_once(conn, settings)

    # Every collector row is stale: one 'collector' incident, no VPS judged.
    await execute_off_loop(
        db_dsn, "UPDATE collector_instances SET heartbeat_at = now() - interval '1 minute'"
    )
    collector_id = f"test-{secrets.token_hex(3)}"
    await execute_off_loop(db_dsn, "INSERT INTO collector_instances VALUES (%s, now() - interval '1 hour',"
            " now() - interval '1 minute')", collector_id)  # fmt: skip
    await evaluate()
    assert [(e[0], e[1]) for e in events(db_dsn, rule_id)] == [("collector", False)]
    # A collector is back but just started: the collector incident resolves, agents wait.
    await execute_off_loop(db_dsn, "UPDATE collector_instances SET heartbeat_at = now(), up_since = now() WHERE collector_id = %s",
            collector_id)  # fmt: skip
    await evaluate()
    assert [(e[0], e[1]) for e in events(db_dsn, rule_id)] == [("collector", True)]
    # It has been up past the grace period and the three are still silent: one fleet incident.
    await execute_off_loop(db_dsn, "UPDATE collector_instances SET heartbeat_at = now(), up_since = now() - interval '1 minute'"
            " WHERE collector_id = %s", collector_id)  # fmt: skip
    await evaluate()
    open_now = [e for e in events(db_dsn, rule_id) if not e[1]]
    assert [e[0] for e in open_now] == ["fleet"] and "3 of 3" in open_now[0][3]


async def test_a_database_blip_restarts_the_collectors_grace_period(
    db_dsn: str, smtp: SmtpReceiver, collector: Any
) -> None:
    """After the collector's heartbeat stopped (the database was away), agents get the
    grace period again before anyone is judged offline."""
    vps = create_vps(db_dsn)
    execute(db_dsn, "UPDATE vps SET last_seen = now() - interval '1 hour' WHERE id = %s", vps.id)
    rule_id = rule(db_dsn, email_channel(db_dsn, smtp), kind="offline", scope_vps_id=vps.id,
                   params={"grace_s": 30})  # fmt: skip
    me = collector.settings.collector_id

    def up_since_age_s() -> float:
        return float(execute(db_dsn, "SELECT extract(epoch FROM now() - up_since) FROM collector_instances"
                             " WHERE collector_id = %s", me)[0][0])  # fmt: skip

    await collector.registry.housekeeping_once()
    # Steady heartbeats keep up_since; the collector has been up a while: the silent VPS fires.
    await execute_off_loop(db_dsn, "UPDATE collector_instances SET up_since = now() - interval '1 hour'")
    await collector.registry.housekeeping_once()
    assert up_since_age_s() >= 3600
    await run_pass(db_dsn)
    assert [(e[0], e[1]) for e in events(db_dsn, rule_id)] == [(f"vps:{vps.id}", False)]
    execute(db_dsn, "DELETE FROM alert_events WHERE rule_id = %s", rule_id)
    # A heartbeat after a minute's gap (the database was unreachable) restarts up_since.
    await execute_off_loop(db_dsn, "UPDATE collector_instances SET heartbeat_at = now() - interval '1 minute' WHERE collector_id = %s",
            me)  # fmt: skip
    await collector.registry.housekeeping_once()
    assert up_since_age_s() < 30
    await run_pass(db_dsn)
    assert events(db_dsn, rule_id) == []
