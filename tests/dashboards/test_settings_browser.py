"""The Settings page and "Add server" in headless Chromium, against the real API: an admin
points install commands at a public URL and collector, and the next server added shows
the one-line install that fetches from there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from common.api_models import Role
from common.settings import DashboardSettings
from dashboards.app import create_app
from tests.api.conftest import PASSWORD, create_user, unique
from tests.browser import click, replace_text, sign_in, text_of, type_into
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]

PUBLIC_URL = "https://tw.example.org"


@pytest.fixture
def admin_name(db_dsn: str) -> Iterator[str]:
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, name = create_user(conn, Role.ADMIN, PASSWORD, unique("admin"))
        yield name
        # The settings row is shared by the session's tests: back to the environment's defaults.
        conn.execute(
            "UPDATE server_settings SET allow_registration = NULL, public_api_url = NULL,"
            " collector_host = NULL, collector_port = NULL, collector_tls = NULL, collector_ca_pem = NULL,"
            " updated_at = NULL, updated_by = NULL"
        )


def test_settings_page_sets_the_address_that_add_server_gives(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, admin_name: str, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1300)
    sign_in(dash_duo, admin_name, PASSWORD)
    dash_duo.wait_for_contains_text("#fleet-grid", demo_fleet.busy_vps_name, timeout=15)

    click(dash_duo, "a.tw-nav-link[href='/settings']")
    dash_duo.wait_for_contains_text("#settings-retention-table", "host_metrics", timeout=15)
    assert "\nhost_metrics 7 days\n" in text_of(dash_duo, "#settings-retention-table")
    # Until an admin saves, the environment's defaults are in force.
    assert text_of(dash_duo, "#settings-updated") == "Environment defaults in force"

    replace_text(dash_duo, "#settings-collector-host", "bad host")
    click(dash_duo, "#settings-save")
    dash_duo.wait_for_contains_text("#settings-message", "collector_host", timeout=15)

    replace_text(dash_duo, "#settings-api-url", PUBLIC_URL)
    replace_text(dash_duo, "#settings-collector-host", "collector.example.org")
    replace_text(dash_duo, "#settings-collector-port", "7443")
    click(dash_duo, "#settings-save")
    dash_duo.wait_for_contains_text("#settings-message", "Saved", timeout=15)
    assert text_of(dash_duo, "#settings-command-text") == (
        f"curl -fsSL {PUBLIC_URL}/agent/install.sh | sudo bash -s -- --token YOUR_AGENT_TOKEN"
    )
    assert text_of(dash_duo, "#settings-updated") == f"Last changed by {admin_name}"
    dash_duo.driver.save_screenshot(str(screenshots / "settings.png"))

    # The next server added shows its token once, in the command that fetches from there.
    click(dash_duo, "a.tw-nav-link[href='/']")
    click(dash_duo, "#fleet-add-toggle")
    type_into(dash_duo, "#fleet-add-name", unique("onboard"))
    click(dash_duo, "#fleet-add-submit")
    dash_duo.wait_for_contains_text("#fleet-token-panel", "twa_", timeout=15)
    token = text_of(dash_duo, "#fleet-new-token")
    assert text_of(dash_duo, "#fleet-new-command") == (
        f"curl -fsSL {PUBLIC_URL}/agent/install.sh | sudo bash -s -- --token {token}"
    )
    dash_duo.driver.save_screenshot(str(screenshots / "fleet-add-server-command.png"))
    assert dash_duo.get_logs() == []
