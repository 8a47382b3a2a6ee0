"""The dashboards in a real headless Chromium, against the real API and database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from common.settings import DashboardSettings
from dashboards.app import create_app
from dashboards.live_view import WAITING_TEXT
from tests.api.conftest import PASSWORD, unique
from tests.browser import click, click_xpath, retry, sign_in, text_of, type_into
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]


def _shot(dash_duo: Any, folder: Path, name: str) -> None:
    dash_duo.driver.save_screenshot(str(folder / f"{name}.png"))


def test_sign_in_fleet_add_server_and_detail(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url, live_refresh_ms=1000))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1000)

    # Signed out, every page leads to the sign-in form.
    dash_duo.wait_for_element("#login-submit")
    assert dash_duo.driver.current_url.endswith("/login")
    sign_in(dash_duo, demo_fleet.username, "not the password")
    dash_duo.wait_for_contains_text("#login-error", "Wrong username or password")
    _shot(dash_duo, screenshots, "login-error")
    dash_duo.clear_input("#login-password")
    type_into(dash_duo, "#login-password", PASSWORD)
    click(dash_duo, "#login-submit")

    # The fleet: both servers, with status.
    dash_duo.wait_for_contains_text("#fleet-grid", demo_fleet.busy_vps_name, timeout=15)
    dash_duo.wait_for_contains_text("#fleet-grid", demo_fleet.idle_vps_name)
    busy_card = text_of(dash_duo, f"a[href='/vps/{demo_fleet.busy_vps_id}']")
    assert "online" in busy_card and "CPU" in busy_card and "GiB" in busy_card, busy_card
    skew = "clock skewed by 9 min 56 s (ahead)"
    dash_duo.wait_for_contains_text(f"a[href='/vps/{demo_fleet.busy_vps_id}'] .tw-clock-skew", skew)
    assert len(dash_duo.find_elements(".tw-vps-card")) >= 2
    assert "offline" in text_of(dash_duo, ".tw-vps-card.is-offline")
    dash_duo.wait_for_contains_text("#fleet-summary", "online")
    _shot(dash_duo, screenshots, "fleet")

    # Add a server: its token and start command are shown once.
    new_name = unique("edge")
    click(dash_duo, "#fleet-add-toggle")
    type_into(dash_duo, "#fleet-add-name", new_name)
    type_into(dash_duo, "#fleet-add-ip", "192.0.2.44")
    click(dash_duo, "#fleet-add-submit")
    dash_duo.wait_for_contains_text("#fleet-token-panel", "twa_", timeout=15)
    assert "/agent/install.sh | sudo bash -s -- --token twa_" in text_of(dash_duo, "#fleet-new-command")
    dash_duo.wait_for_contains_text("#fleet-grid", new_name)
    _shot(dash_duo, screenshots, "fleet-added")

    # The busy server's detail page: facts, live charts from raw samples.
    dash_duo.driver.set_window_size(1440, 1320)  # all four charts in the screenshot
    click(dash_duo, f"a[href='/vps/{demo_fleet.busy_vps_id}']")
    dash_duo.wait_for_contains_text("#vps-header", "AMD EPYC 7543P", timeout=15)
    dash_duo.wait_for_contains_text("#vps-header .tw-alert-warning", skew)
    dash_duo.wait_for_contains_text("#vps-resolution", "raw samples")
    for graph in ("vps-cpu", "vps-memory", "vps-network", "vps-disk"):
        dash_duo.wait_for_element(f"#{graph} .scatterlayer .trace")
    assert "GiB" in text_of(dash_duo, "#vps-memory")
    assert "eth0" in text_of(dash_duo, "#vps-network")
    _shot(dash_duo, screenshots, "vps-detail")

    # History over a week comes from the 1-minute rollup.
    click_xpath(dash_duo, "//div[@id='vps-range']//label[normalize-space()='7d']")
    dash_duo.wait_for_contains_text("#vps-resolution", "1-minute rollup", timeout=15)
    _shot(dash_duo, screenshots, "vps-detail-7d")

    # A server whose agent never reported says what to do.
    click(dash_duo, ".tw-back")
    dash_duo.wait_for_contains_text("#fleet-grid", new_name)
    click_xpath(
        dash_duo, f"//*[contains(concat(' ', @class, ' '), ' tw-vps-card ')][contains(., '{new_name}')]"
    )
    dash_duo.wait_for_contains_text("#vps-empty", "No data yet — is the agent running?", timeout=15)
    # An operator may not read the server settings: rotating the token shows the command.
    shown = text_of(dash_duo, "#vps-empty")
    assert "Rotate the agent token" in shown and "one-line install command" in shown, shown
    assert "TIDEWATCH_AGENT_TOKEN" not in shown and "YOUR_AGENT_TOKEN" not in shown
    # Its live charts say they wait, with no axes (a date axis without points reads "Jan 2000").
    dash_duo.wait_for_contains_text("#vps-live-cpu", WAITING_TEXT, timeout=15)
    assert "2000" not in text_of(dash_duo, "#vps-live-cpu")
    _shot(dash_duo, screenshots, "vps-empty")

    click(dash_duo, "#app-logout")
    dash_duo.wait_for_element("#login-submit")
    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []


def test_registration_creates_a_viewer(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1000)
    dash_duo.wait_for_element("#login-mode")
    click_xpath(dash_duo, "//div[@id='login-mode']//label[normalize-space()='Create account']")
    dash_duo.wait_for_text_to_equal("#login-submit", "Create account")
    _shot(dash_duo, screenshots, "register")
    sign_in(dash_duo, unique("newbie"), PASSWORD)
    dash_duo.wait_for_contains_text("#fleet-grid", demo_fleet.busy_vps_name, timeout=15)
    assert text_of(dash_duo, "#app-user").endswith("VIEWER")
    # Viewers read; they cannot add servers.
    assert not retry(lambda: dash_duo.find_element("#fleet-add-toggle").is_displayed(), "#fleet-add-toggle")
    assert dash_duo.get_logs() == []
