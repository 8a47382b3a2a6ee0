"""Alert rules end to end: the real agent, collector and evaluator processes, the
real Docker engine and a real SMTP server. One mail per open and per resolve."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.alert_receivers import SmtpReceiver, wait_for
from tests.conftest import Vps, free_port
from tests.docker_fixtures import LabelledContainers
from tests.integration.test_alerts_evaluator import email_channel, execute, rule
from tests.processes import Service

pytestmark = [pytest.mark.db, pytest.mark.slow]

GRACE_S = 8.0


@dataclass
class Stack:
    collector: Service
    agent: Service
    alerts: Service
    port: int

    def stop(self) -> None:
        for service in (self.alerts, self.agent, self.collector):
            service.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def stack(db_dsn: str, vps: Vps, tmp_path: Path) -> Iterator[Stack]:
    port = free_port()
    tag = secrets.token_hex(3)
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": "",
            "TIDEWATCH_COLLECTOR_FLUSH_INTERVAL_MS": "50",
            "TIDEWATCH_COLLECTOR_OFFLINE_AFTER_S": "6",
        },
        log_name=f"alerts-collector-{tag}",
    )
    (tmp_path / "agent.toml").write_text(
        "[intervals]\nsnapshot_interval_s = 0.5\ndocker_interval_s = 1.0\nbatch_max_snapshots = 2\nbatch_max_delay_s = 0.5\n"
    )
    agent = Service(
        "agent",
        ["tidewatch-agent"],
        {
            "TIDEWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml"),
            "TIDEWATCH_AGENT_SERVER": f"127.0.0.1:{port}",
            "TIDEWATCH_AGENT_TOKEN": vps.token,
            "TIDEWATCH_AGENT_TLS": "false",
            "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(tmp_path / "spool"),
        },
        log_name=f"alerts-agent-{tag}",
    )
    alerts = Service(
        "alerts",
        ["tidewatch-alerts"],
        {
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_ALERTS_EVALUATE_INTERVAL_S": "0.5",
            "TIDEWATCH_ALERTS_SEND_POLL_INTERVAL_S": "0.2",
            "TIDEWATCH_ALERTS_SAMPLE_SLACK_S": "5",
            "TIDEWATCH_ALERTS_COLLECTOR_STALE_S": "8",
        },
        log_name=f"alerts-evaluator-{tag}",
    )
    running = Stack(collector, agent, alerts, port)
    collector.start(port)
    agent.start()
    alerts.start()
    try:
        yield running
    finally:
        running.stop()


def connected(dsn: str, vps_id: int) -> bool:
    rows = execute(dsn, "SELECT connected_collector IS NOT NULL FROM vps WHERE id = %s", vps_id)
    return bool(rows and rows[0][0])


def test_offline_and_online_mail_once_and_collector_restart_is_quiet(
    db_dsn: str, vps: Vps, stack: Stack, smtp: SmtpReceiver
) -> None:
    name = f"offline-{secrets.token_hex(3)}"
    rule(db_dsn, email_channel(db_dsn, smtp), name=name, kind="offline", scope_vps_id=vps.id,
         params={"grace_s": GRACE_S})  # fmt: skip

    def mine() -> list[str]:
        return [s for s in smtp.subjects() if name in s]

    wait_for(lambda: connected(db_dsn, vps.id), what="the agent to connect")
    # Restart the collector: the agent reconnects within the grace period; nobody is paged.
    stack.collector.stop()
    stack.collector.start(stack.port)
    wait_for(lambda: connected(db_dsn, vps.id), timeout_s=60, what="the agent to reconnect")
    quiet_until = time.monotonic() + GRACE_S * 2
    while time.monotonic() < quiet_until:
        assert mine() == [], "a collector restart paged someone"
        time.sleep(0.2)

    stack.agent.stop()
    wait_for(lambda: len(mine()) >= 1, timeout_s=60, what="the offline mail")
    vps_name = execute(db_dsn, "SELECT name FROM vps WHERE id = %s", vps.id)[0][0]
    assert mine() == [f"[FIRING] {name}: {vps_name}"]

    stack.agent.start()
    wait_for(lambda: len(mine()) >= 2, timeout_s=60, what="the online mail")
    # A few more evaluation passes must not add anything.
    passes_until = time.monotonic() + 3.0
    while time.monotonic() < passes_until:
        time.sleep(0.2)
    assert mine() == [f"[FIRING] {name}: {vps_name}", f"[RESOLVED] {name}: {vps_name}"]
    events = execute(
        db_dsn, "SELECT e.target_key, e.resolved_at IS NOT NULL FROM alert_events e JOIN alert_rules r"
        " ON r.id = e.rule_id WHERE r.name = %s", name,
    )  # fmt: skip
    assert events == [(f"vps:{vps.id}", True)]


@pytest.mark.docker
def test_container_cpu_burn_fires_once_and_resolves_once(
    db_dsn: str, vps: Vps, stack: Stack, smtp: SmtpReceiver, labelled_containers: LabelledContainers
) -> None:
    burner = labelled_containers.run(["/bin/sh", "-c", "while [ ! -e /tmp/stop ]; do :; done; sleep 3600"])
    name = f"ccpu-{secrets.token_hex(3)}"
    rule(
        db_dsn, email_channel(db_dsn, smtp), name=name, kind="threshold", scope_vps_id=vps.id,
        metric="container_cpu_percent", metric_labels={"container": burner.name}, comparator=">",
        threshold=30.0, duration_s=3.0, resolve_threshold=10.0, resolve_duration_s=3.0,
    )  # fmt: skip

    def mine() -> list[str]:
        return [s for s in smtp.subjects() if name in s]

    wait_for(lambda: len(mine()) >= 1, timeout_s=90, what="the container CPU mail")
    burner.exec_run(["touch", "/tmp/stop"])
    wait_for(lambda: len(mine()) >= 2, timeout_s=90, what="the resolved mail")
    vps_name = execute(db_dsn, "SELECT name FROM vps WHERE id = %s", vps.id)[0][0]
    target = f"{vps_name} {burner.name}"
    assert mine() == [f"[FIRING] {name}: {target}", f"[RESOLVED] {name}: {target}"]
    peak = execute(
        db_dsn, "SELECT e.peak_value FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id WHERE r.name = %s",
        name,
    )  # fmt: skip
    assert len(peak) == 1 and peak[0][0] > 30.0
