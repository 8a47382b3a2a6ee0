"""The alerts and traffic pages in a real headless Chromium, against the real API:
events with acknowledge, rules (and adding one), channels with a test send, silences,
the firing badge in the header, and monthly traffic fleet-wide and per server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from common.settings import DashboardSettings
from dashboards.app import create_app
from tests.api.conftest import PASSWORD, unique
from tests.browser import click, sign_in, text_of, type_into
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]
MIB = 1024**2


def _arrange(dsn: str, vps_id: int) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        channel = conn.execute(
            "INSERT INTO alert_channels (name, kind, config) VALUES (%s, 'webhook', %s) RETURNING id",
            (unique("hook"), json.dumps({"url": "http://127.0.0.1:9/never"})),
        ).fetchone()
        rule_name = unique("cpu")
        rule = conn.execute(
            "INSERT INTO alert_rules (name, kind, metric, threshold, duration_s) VALUES (%s, 'threshold',"
            " 'cpu_percent', 90, 300) RETURNING id",
            (rule_name,),
        ).fetchone()
        assert channel is not None and rule is not None
        event = conn.execute(
            "INSERT INTO alert_events (rule_id, vps_id, target_key, target_label, value, peak_value, summary)"
            " VALUES (%s, %s, %s, 'web', 95, 99, 'cpu_percent is 95') RETURNING id",
            (rule[0], vps_id, f"vps:{vps_id}"),
        ).fetchone()
        assert event is not None
        conn.execute(
            "INSERT INTO alert_silences (cron, duration_s, timezone, comment) VALUES ('0 3 * * *', 3600,"
            " 'Europe/Berlin', 'nightly backup')"
        )
        conn.execute(
            "INSERT INTO vps_billing (vps_id, provider, price, currency, cycle, expires_on) VALUES"
            " (%s, 'Hetzner', 12, 'EUR', 'quarterly', current_date + 5)",
            (vps_id,),
        )
        conn.execute(
            "UPDATE vps SET traffic_quota_bytes = %s, traffic_quota_direction = 'total' WHERE id = %s",
            (50_000 * MIB, vps_id),
        )
        conn.execute(
            "INSERT INTO network_metrics SELECT t, %s, 'eth0', 0, 0, 0, 0, 0, 0, 0, 0, %s, %s"
            " FROM generate_series(now() - interval '2 days', now(), interval '1 hour') AS t",
            (vps_id, 40 * MIB, 10 * MIB),
        )
    return {"channel": channel[0], "rule": rule_name, "event": event[0]}


@pytest.fixture
def silences_removed_after(db_dsn: str) -> Iterator[None]:
    """Silences the test adds (recurring ones, not scoped to a rule or VPS) are deleted after it:
    left behind, they would mute every alert in this database at their hours."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM alert_silences").fetchone()
    before = row[0] if row else 0
    yield
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM alert_silences WHERE id > %s", (before,))


@pytest.mark.usefixtures("silences_removed_after")
def test_alerts_and_traffic_pages(
    dash_duo: Any, api_url: str, db_dsn: str, demo_fleet: DemoFleet, screenshots: Path
) -> None:
    arranged = _arrange(db_dsn, demo_fleet.busy_vps_id)
    app = create_app(DashboardSettings(api_url=api_url, live_refresh_ms=1000))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1200)
    sign_in(dash_duo, demo_fleet.username, PASSWORD)
    dash_duo.wait_for_contains_text("#fleet-grid", demo_fleet.busy_vps_name, timeout=15)
    dash_duo.wait_for_contains_text("#app-alerts-badge", "firing", timeout=15)

    click(dash_duo, "#app-alerts-badge")
    dash_duo.wait_for_contains_text("#alerts-events-table", arranged["rule"], timeout=15)
    dash_duo.wait_for_contains_text("#alerts-channels-table", "webhook")
    dash_duo.wait_for_contains_text("#alerts-silences-table", "nightly backup")
    dash_duo.wait_for_contains_text("#alerts-rules-table", "cpu_percent > 90 for 300 s")
    dash_duo.driver.save_screenshot(str(screenshots / "alerts.png"))

    click(dash_duo, f"#alerts-events-table button[id*='\"index\":{arranged['event']}']")
    dash_duo.wait_for_contains_text("#alerts-action-result", "acknowledged", timeout=15)
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute("SELECT acknowledged_at IS NOT NULL FROM alert_events WHERE id = %s",
                           (arranged["event"],)).fetchone()  # fmt: skip
    assert row == (True,)
    click(dash_duo, f"#alerts-channels-table button[id*='\"index\":{arranged['channel']}']")
    dash_duo.wait_for_contains_text("#alerts-action-result", "Test notification queued", timeout=15)

    new_rule = unique("load")
    type_into(dash_duo, "#alerts-rule-name", new_rule)
    click(dash_duo, "#alerts-rule-submit")
    dash_duo.wait_for_contains_text("#alerts-rule-error", f"Rule {new_rule} added", timeout=15)
    dash_duo.wait_for_contains_text("#alerts-rules-table", new_rule, timeout=15)
    dash_duo.driver.save_screenshot(str(screenshots / "alerts-acknowledged.png"))

    # A channel from the form (the email example as given) and a recurring silence.
    channel_name = unique("mail")
    type_into(dash_duo, "#alerts-channel-name", channel_name)
    click(dash_duo, "#alerts-channel-submit")
    dash_duo.wait_for_contains_text("#alerts-channel-error", f"Channel {channel_name} added", timeout=15)
    dash_duo.wait_for_contains_text("#alerts-channels-table", channel_name, timeout=15)
    type_into(dash_duo, "#alerts-silence-cron", "30 2 * * 6")
    dash_duo.clear_input("#alerts-silence-tz")
    type_into(dash_duo, "#alerts-silence-tz", "Mars/Olympus")
    type_into(dash_duo, "#alerts-silence-comment", "weekly maintenance")
    click(dash_duo, "#alerts-silence-submit")
    dash_duo.wait_for_contains_text("#alerts-silence-error", "not an IANA timezone", timeout=15)
    dash_duo.clear_input("#alerts-silence-tz")
    type_into(dash_duo, "#alerts-silence-tz", "Europe/Berlin")
    click(dash_duo, "#alerts-silence-submit")
    dash_duo.wait_for_contains_text("#alerts-silence-error", "Silence added", timeout=15)
    dash_duo.wait_for_contains_text("#alerts-silences-table", "weekly maintenance", timeout=15)
    dash_duo.driver.save_screenshot(str(screenshots / "alerts-forms.png"))

    dash_duo.driver.get(f"{dash_duo.server_url}/traffic")
    dash_duo.wait_for_contains_text("#traffic-table", demo_fleet.busy_vps_name, timeout=15)
    dash_duo.wait_for_element("#traffic-fleet-graph .barlayer")
    dash_duo.driver.save_screenshot(str(screenshots / "traffic-fleet.png"))
    click(dash_duo, f"#traffic-row-{demo_fleet.busy_vps_id} a")
    dash_duo.wait_for_element("#traffic-vps-graph .barlayer", timeout=15)
    dash_duo.wait_for_contains_text("#traffic-summary", "resets on day 1")
    assert "MiB" in text_of(dash_duo, "#traffic-table") or "GiB" in text_of(dash_duo, "#traffic-table")
    dash_duo.driver.save_screenshot(str(screenshots / "traffic-vps.png"))

    dash_duo.driver.get(f"{dash_duo.server_url}/billing")
    dash_duo.wait_for_contains_text("#billing-table", demo_fleet.busy_vps_name, timeout=15)
    assert "Hetzner" in text_of(dash_duo, "#billing-table")
    dash_duo.wait_for_contains_text("#billing-summary", "4.00 EUR / month")
    dash_duo.driver.save_screenshot(str(screenshots / "billing.png"))

    # The server's charts: the event as a band on the CPU chart, the disk projection.
    dash_duo.driver.get(f"{dash_duo.server_url}/vps/{demo_fleet.busy_vps_id}")
    dash_duo.wait_for_contains_text("#vps-cpu", f"⚠ {arranged['rule']}", timeout=20)
    dash_duo.wait_for_contains_text("#vps-disk", "full in", timeout=20)
    dash_duo.driver.save_screenshot(str(screenshots / "vps-alert-overlays.png"))

    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []
