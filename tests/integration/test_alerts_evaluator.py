"""The alert evaluator against the real database, a real SMTP server and real HTTP
receivers: exactly one notification per open and resolve, across evaluator
restarts and with two evaluators running."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from alerts.evaluator import evaluate_once
from alerts.sender import send_next
from alerts.settings import AlertsSettings
from tests.alert_receivers import SmtpReceiver, wait_for
from tests.conftest import create_vps
from tests.processes import Service

pytestmark = pytest.mark.db


def execute(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def email_channel(dsn: str, smtp: SmtpReceiver) -> int:
    config = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "from": "tw@test",
        "to": ["ops@test"],
    }
    return int(
        execute(
            dsn, "INSERT INTO alert_channels (name, kind, config) VALUES (%s, 'email', %s) RETURNING id",
            f"mail-{secrets.token_hex(3)}", json.dumps(config),
        )[0][0]
    )  # fmt: skip


def rule(dsn: str, channel_id: int, **values: Any) -> int:
    values.setdefault("name", f"rule-{secrets.token_hex(3)}")
    for key in ("params", "scope_labels", "metric_labels"):
        if key in values:
            values[key] = json.dumps(values[key])
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    rule_id = int(
        execute(dsn, f"INSERT INTO alert_rules ({columns}) VALUES ({marks}) RETURNING id", *values.values())[
            0
        ][0]
    )
    execute(dsn, "INSERT INTO alert_rule_channels VALUES (%s, %s)", rule_id, channel_id)
    return rule_id


def insert_cpu(dsn: str, vps_id: int, percent: float, seconds: int) -> None:
    """One host sample per second for the last ``seconds`` seconds, up to now."""
    execute(
        dsn,
        "INSERT INTO host_metrics SELECT t, %s, %s, '{}', 1, 2, 3, 4, 0.5, 0.4, 0.3, 8589934592, 1073741824,"
        " 4294967296, 1000, 2000, 0, 0, 10, 2, 100, 3600"
        " FROM generate_series(now() - make_interval(secs => %s), now(), interval '1 second') AS t",
        vps_id, percent, seconds,
    )  # fmt: skip


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


def evaluator(dsn: str, name: str) -> Service:
    return Service(
        "alerts",
        ["tidewatch-alerts", "--log-level", "DEBUG"],
        {
            "TIDEWATCH_DSN": dsn,
            "TIDEWATCH_ALERTS_EVALUATE_INTERVAL_S": "0.3",
            "TIDEWATCH_ALERTS_SEND_POLL_INTERVAL_S": "0.2",
            "TIDEWATCH_ALERTS_SAMPLE_SLACK_S": "5",
        },
        log_name=name,
    )


def test_two_evaluators_killed_mid_incident_send_each_transition_once(
    db_dsn: str, smtp: SmtpReceiver
) -> None:
    vps = create_vps(db_dsn)
    channel = email_channel(db_dsn, smtp)
    name = f"cpu-{secrets.token_hex(3)}"
    rule(
        db_dsn, channel, name=name, kind="threshold", scope_vps_id=vps.id, metric="cpu_percent",
        comparator=">", threshold=90.0, duration_s=5.0, resolve_threshold=80.0,
    )  # fmt: skip
    first, second = evaluator(db_dsn, "alerts-a").start(), evaluator(db_dsn, "alerts-b").start()
    try:
        insert_cpu(db_dsn, vps.id, 97.0, 20)

        def mine() -> list[str]:
            return [s for s in smtp.subjects() if name in s]

        wait_for(lambda: len(mine()) >= 1, what="the firing mail")
        assert len(mine()) == 1 and mine()[0].startswith(f"[FIRING] {name}: ")
        # Kill one evaluator mid-incident and start a fresh one: the incident is not re-announced.
        first.kill()
        third = evaluator(db_dsn, "alerts-c").start()
        try:
            # Let the new evaluator run several passes over the still-firing data.
            wait_for(
                lambda: "alerts evaluator running" in third.log_path.read_text(),
                what="the restarted evaluator",
            )
            insert_cpu(db_dsn, vps.id, 97.0, 3)
            # Back under the resolve line for longer than the duration: one resolved mail.
            execute(db_dsn, "DELETE FROM host_metrics WHERE vps_id = %s", vps.id)
            insert_cpu(db_dsn, vps.id, 50.0, 20)
            wait_for(lambda: any(s.startswith("[RESOLVED]") for s in mine()), what="the resolved mail")
        finally:
            third.stop()
    finally:
        first.stop()
        second.stop()
    vps_name = execute(db_dsn, "SELECT name FROM vps WHERE id = %s", vps.id)[0][0]
    assert mine() == [f"[FIRING] {name}: {vps_name}", f"[RESOLVED] {name}: {vps_name}"]
    rows = execute(
        db_dsn,
        "SELECT d.transition, d.status, d.attempts FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
        " JOIN alert_rules r ON r.id = e.rule_id WHERE r.name = %s ORDER BY d.id", name,
    )  # fmt: skip
    assert rows == [("open", "sent", 1), ("resolve", "sent", 1)]
    events = execute(
        db_dsn,
        "SELECT peak_value, resolved_at IS NOT NULL FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id WHERE r.name = %s",
        name,
    )
    assert events == [(97.0, True)]


async def test_concurrent_evaluations_open_one_event(db_dsn: str, smtp: SmtpReceiver) -> None:
    vps = create_vps(db_dsn)
    channel = email_channel(db_dsn, smtp)
    name = f"mem-{secrets.token_hex(3)}"
    rule(db_dsn, channel, name=name, kind="threshold", scope_vps_id=vps.id, metric="memory_percent",
         comparator=">=", threshold=12.0, duration_s=3.0)  # fmt: skip
    insert_cpu(db_dsn, vps.id, 10.0, 10)  # memory: 1 GiB of 8 GiB = 12.5 %
    settings = AlertsSettings(sample_slack_s=5.0)

    async def evaluate() -> bool:
        async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as conn:
            return await evaluate_once(conn, settings)

    results = await asyncio.gather(*(evaluate() for _ in range(6)))
    assert any(results)
    for _ in range(3):
        assert await evaluate()
    async with await psycopg.AsyncConnection.connect(db_dsn, autocommit=True) as conn:
        while await send_next(conn, settings):
            pass
    mine = [s for s in smtp.subjects() if name in s]
    assert len(mine) == 1 and mine[0].startswith("[FIRING]")
    mail = next(m for m in smtp.messages if name in str(m["Subject"]))
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
