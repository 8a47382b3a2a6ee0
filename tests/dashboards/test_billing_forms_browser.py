"""The operator forms in a real headless Chromium against the real API and database:
billing facts and a traffic quota set through the billing page's forms, then seen on
the fleet page (expiry badge, monthly cost total) and the traffic panel; a rule edited
and deleted (through its confirm dialog) and a renewal rule added on the alerts page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium.common.exceptions import (
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By

from common.settings import DashboardSettings
from dashboards.app import create_app
from tests.api.conftest import PASSWORD, unique
from tests.browser import accept_confirm, choose
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]
GIB = 1024**3
TIMEOUT_S = 30.0
# ISO 4217's code for testing: no other test prices anything in it, so its fleet total is ours alone.
CURRENCY = "XTS"
RETRYABLE = (StaleElementReferenceException, NoSuchElementException, ElementNotInteractableException)


def _retry(action: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Run ``action`` until it returns True: the pages re-render while we act."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if action():
                return
        except RETRYABLE:
            pass
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.3)


def _click(dash_duo: Any, selector: str) -> None:
    def click() -> bool:
        dash_duo.find_element(selector).click()
        return True

    _retry(click, f"click {selector}")


def _type(dash_duo: Any, selector: str, text: str) -> None:
    def type_in() -> bool:
        dash_duo.clear_input(selector)
        dash_duo.find_element(selector).send_keys(text)
        return bool(dash_duo.find_element(selector).get_attribute("value") == text)

    _retry(type_in, f"type into {selector}")


@pytest.fixture
def arranged(db_dsn: str) -> Iterator[dict[str, Any]]:
    """A server of our own, a threshold rule to edit and delete, and a renewal rule
    whose 30-day window is the widest, so a 20-day expiry is inside it."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        name = unique("billed")
        vps = conn.execute(
            "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, online, last_seen)"
            " VALUES (%s, '192.0.2.10', %s, 'x', true, now()) RETURNING id",
            (name, unique("k")),
        ).fetchone()
        rule_name = unique("mem")
        rule = conn.execute(
            "INSERT INTO alert_rules (name, kind, metric, threshold, duration_s) VALUES (%s, 'threshold',"
            " 'memory_percent', 90, 120) RETURNING id",
            (rule_name,),
        ).fetchone()
        renewal = conn.execute(
            "INSERT INTO alert_rules (name, kind, params) VALUES (%s, 'renewal', '{\"days_before\": 30}')"
            " RETURNING id",
            (unique("renew"),),
        ).fetchone()
        assert vps is not None and rule is not None and renewal is not None
    created: list[str] = []
    yield {"vps_id": vps[0], "name": name, "rule_id": rule[0], "rule": rule_name, "created": created}
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM alert_rules WHERE id = ANY(%s) OR name = ANY(%s)", ([rule[0], renewal[0]], created)
        )
        conn.execute("DELETE FROM vps WHERE id = %s", (vps[0],))


def test_billing_quota_and_rule_forms(
    dash_duo: Any,
    api_url: str,
    db_dsn: str,
    demo_fleet: DemoFleet,
    screenshots: Path,
    arranged: dict[str, Any],
) -> None:
    vps_id, name = arranged["vps_id"], arranged["name"]
    expires = date.today() + timedelta(days=20)
    app = create_app(DashboardSettings(api_url=api_url, live_refresh_ms=2000))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1400)
    dash_duo.wait_for_element("#login-username", timeout=TIMEOUT_S)
    dash_duo.find_element("#login-username").send_keys(demo_fleet.username)
    dash_duo.find_element("#login-password").send_keys(PASSWORD)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_contains_text("#fleet-grid", name, timeout=TIMEOUT_S)

    # Billing facts through the form; a bad currency first shows the API's problem detail.
    dash_duo.driver.get(f"{dash_duo.server_url}/billing")
    dash_duo.wait_for_element("#billing-forms:not([hidden])", timeout=TIMEOUT_S)
    choose(dash_duo, "#billing-form-vps", name, TIMEOUT_S)
    _type(dash_duo, "#billing-form-provider", "Contabo")
    _type(dash_duo, "#billing-form-price", "30")
    _type(dash_duo, "#billing-form-currency", "X1")
    choose(dash_duo, "#billing-form-cycle", "quarterly", TIMEOUT_S)
    _type(dash_duo, "#billing-form-expires", expires.isoformat())
    _click(dash_duo, "#billing-form-submit")
    dash_duo.wait_for_contains_text("#billing-form-result", "currency", timeout=TIMEOUT_S)
    _type(dash_duo, "#billing-form-currency", CURRENCY)
    _click(dash_duo, "#billing-form-submit")
    dash_duo.wait_for_contains_text("#billing-form-result", "Billing facts saved", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text("#billing-table", "Contabo", timeout=TIMEOUT_S)

    # The quota: 1.5 GiB of outbound traffic, resetting on the 15th in Berlin.
    choose(dash_duo, "#quota-form-direction", "out", TIMEOUT_S)
    _type(dash_duo, "#quota-form-gib", "1.5")
    _type(dash_duo, "#quota-form-reset-day", "15")
    _type(dash_duo, "#quota-form-timezone", "Europe/Berlin")
    _type(dash_duo, "#quota-form-warn", "50, 90")
    _click(dash_duo, "#quota-form-submit")
    dash_duo.wait_for_contains_text("#quota-form-result", "resets on day 15", timeout=TIMEOUT_S)
    dash_duo.driver.save_screenshot(str(screenshots / "billing-forms.png"))
    with psycopg.connect(db_dsn) as conn:
        billing = conn.execute(
            "SELECT provider, price::float8, currency, cycle, expires_on FROM vps_billing WHERE vps_id = %s",
            (vps_id,),
        ).fetchone()
        quota = conn.execute(
            "SELECT traffic_quota_bytes, traffic_quota_direction, traffic_reset_day, traffic_timezone,"
            " traffic_warn_percents FROM vps WHERE id = %s",
            (vps_id,),
        ).fetchone()
    assert billing == ("Contabo", 30.0, CURRENCY, "quarterly", expires)
    assert quota == (round(1.5 * GIB), "out", 15, "Europe/Berlin", [50.0, 90.0])

    # The fleet page: the expiry badge, highlighted inside the 30-day window, and the total.
    dash_duo.driver.get(f"{dash_duo.server_url}/")
    # Days counted now, not when the form was typed: the test may cross midnight.
    days_left = (expires - date.today()).days
    dash_duo.wait_for_text_to_equal(f"#fleet-expiry-{vps_id}", f"expires in {days_left} d", timeout=TIMEOUT_S)
    assert "tw-expiry-soon" in (dash_duo.find_element(f"#fleet-expiry-{vps_id}").get_attribute("class") or "")
    dash_duo.wait_for_contains_text("#fleet-summary", f"10.00 {CURRENCY} / month", timeout=TIMEOUT_S)
    dash_duo.driver.save_screenshot(str(screenshots / "fleet-billing.png"))

    # The server's traffic panel shows the quota set through the form.
    dash_duo.driver.get(f"{dash_duo.server_url}/traffic?vps={vps_id}")
    dash_duo.wait_for_contains_text("#traffic-summary", "resets on day 15", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text("#traffic-table", "1.5 GiB", timeout=TIMEOUT_S)
    assert "(out)" in dash_duo.find_element("#traffic-table").text
    dash_duo.driver.save_screenshot(str(screenshots / "traffic-quota.png"))

    # Edit the rule: a new name and threshold; scope and the rest stay.
    rule_id, renamed = arranged["rule_id"], unique("mem-edited")
    dash_duo.driver.get(f"{dash_duo.server_url}/alerts")
    dash_duo.wait_for_contains_text(
        f"#alerts-rule-{rule_id}", "memory_percent > 90 for 120 s", timeout=TIMEOUT_S
    )
    _click(dash_duo, f"#alerts-rule-{rule_id} button[id*='alerts-rule-edit']")
    dash_duo.wait_for_text_to_equal("#alerts-rule-submit", "Save rule", timeout=TIMEOUT_S)
    _retry(lambda: dash_duo.find_element("#alerts-rule-name").get_attribute("value") == arranged["rule"],
           "the rule loaded into the form")  # fmt: skip
    _type(dash_duo, "#alerts-rule-name", renamed)
    _type(dash_duo, "#alerts-rule-threshold", "75")
    _click(dash_duo, "#alerts-rule-submit")
    dash_duo.wait_for_contains_text("#alerts-rule-error", f"Rule {renamed} saved", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text(
        f"#alerts-rule-{rule_id}", "memory_percent > 75 for 120 s", timeout=TIMEOUT_S
    )
    dash_duo.wait_for_text_to_equal("#alerts-rule-submit", "Add rule", timeout=TIMEOUT_S)
    dash_duo.driver.save_screenshot(str(screenshots / "alerts-rule-edited.png"))

    # Delete it behind the confirm dialog.
    _click(dash_duo, f"#alerts-rule-{rule_id} button[id*='alerts-delete']")
    assert renamed in accept_confirm(dash_duo, TIMEOUT_S)
    dash_duo.wait_for_contains_text(
        "#alerts-action-result", f"Deleted the alert rule '{renamed}'", timeout=TIMEOUT_S
    )
    _retry(lambda: not dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#alerts-rule-{rule_id}"),
           "the deleted rule leaves the table")  # fmt: skip
    dash_duo.driver.save_screenshot(str(screenshots / "alerts-rule-deleted.png"))
    with psycopg.connect(db_dsn) as conn:
        gone = conn.execute("SELECT count(*) FROM alert_rules WHERE id = %s", (rule_id,)).fetchone()
    assert gone == (0,)

    # A rule of another kind: a renewal reminder 45 days ahead, its threshold fields disabled.
    reminder = unique("renewal")
    arranged["created"].append(reminder)
    choose(dash_duo, "#alerts-rule-kind", "renewal reminder", TIMEOUT_S)
    dash_duo.wait_for_text_to_equal("#alerts-rule-setting-label", "Days before expiry", timeout=TIMEOUT_S)
    assert dash_duo.find_element("#alerts-rule-threshold").get_attribute("disabled") is not None
    _type(dash_duo, "#alerts-rule-name", reminder)
    _type(dash_duo, "#alerts-rule-setting", "45")
    _click(dash_duo, "#alerts-rule-submit")
    dash_duo.wait_for_contains_text("#alerts-rule-error", f"Rule {reminder} added", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text(
        "#alerts-rules-table", "renewal reminder, days before expiry 45", timeout=TIMEOUT_S
    )
    with psycopg.connect(db_dsn) as conn:
        stored = conn.execute("SELECT kind, params FROM alert_rules WHERE name = %s", (reminder,)).fetchone()
    assert stored == ("renewal", {"days_before": 45})
    dash_duo.driver.save_screenshot(str(screenshots / "alerts-renewal-rule.png"))

    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []
