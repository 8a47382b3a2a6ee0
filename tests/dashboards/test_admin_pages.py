"""The admin pages in a real headless Chromium against the real API and database: an
admin adds a user, changes their role, disables and enables them and resets their
password; creates a personal API token (secret shown once, and it works), revokes it
(and it stops working); filters the audit log by VPS, action and user, also at phone
width; and the new user, a viewer of the admin pages, sees neither their links nor
their contents. Screenshots of each page land in artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from selenium.webdriver.common.by import By

from common.api_models import Role
from common.settings import DashboardSettings
from dashboards.app import create_app
from tests.api.conftest import PASSWORD, create_user, unique
from tests.browser import NotYet, accept_confirm, choose, click, retry, sign_in, text_of, type_into
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.db]
TIMEOUT_S = 30
NEW_PASSWORD = "reset by the admin page"


def _api_session(api_url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=api_url, timeout=30)
    login = client.post("/api/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return client


def _arrange_vps(api: httpx.Client) -> tuple[int, str]:
    """A VPS created and renamed through the API, so the audit log holds two rows about it."""
    name = unique("audited")
    created = api.post("/api/vps", json={"name": name})
    assert created.status_code == 201, created.text
    vps_id = int(created.json()["vps"]["id"])
    assert api.patch(f"/api/vps/{vps_id}", json={"labels": {"env": "test"}}).status_code == 200
    return vps_id, name


def _cells(dash_duo: Any, table: str, column: int) -> list[str]:
    rows = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")
    return [str(row.find_elements(By.TAG_NAME, "td")[column].text) for row in rows]


def _shown(dash_duo: Any, selector: str, expected: bool) -> None:
    def step() -> None:
        if dash_duo.find_element(selector).is_displayed() is not expected:
            raise NotYet(f"{selector} displayed is not {expected}")

    retry(step, f"{selector} shown={expected}", TIMEOUT_S)


def _wait_rows(dash_duo: Any, table: str, column: int, expected: set[str]) -> list[str]:
    """The column's cells once every one of them is in ``expected`` (and there is at least one)."""

    def step() -> list[str]:
        cells = _cells(dash_duo, table, column)
        if not cells or not set(cells) <= expected:
            raise NotYet(f"{table} column {column}: {cells}, want only {expected}")
        return cells

    return retry(step, f"rows of {table}", TIMEOUT_S)


def test_admin_pages(dash_duo: Any, api_url: str, db_dsn: str, screenshots: Path) -> None:
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, admin = create_user(conn, Role.ADMIN, PASSWORD, unique("boss"))
    admin_api = _api_session(api_url, admin, PASSWORD)
    try:
        vps_id, vps_name = _arrange_vps(admin_api)
    finally:
        admin_api.close()

    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1000)
    sign_in(dash_duo, admin, PASSWORD)
    _shown(dash_duo, "#app-admin-links", True)

    # Users: add, change role, disable and enable, reset the password.
    click(dash_duo, "a[href='/admin/users']")
    dash_duo.wait_for_contains_text("#users-table", admin, timeout=TIMEOUT_S)
    newcomer = unique("newcomer")
    type_into(dash_duo, "#users-new-name", newcomer)
    type_into(dash_duo, "#users-new-password", PASSWORD)
    click(dash_duo, "#users-add")
    dash_duo.wait_for_contains_text("#users-result", f"Added {newcomer} as viewer", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text("#users-table", newcomer, timeout=TIMEOUT_S)
    choose(dash_duo, "#users-pick", f"{newcomer} (viewer)")
    choose(dash_duo, "#users-role", "operator")
    click(dash_duo, "#users-save-role")
    dash_duo.wait_for_contains_text("#users-result", f"{newcomer} is now operator", timeout=TIMEOUT_S)
    dash_duo.wait_for_text_to_equal("#users-toggle", "Disable", timeout=TIMEOUT_S)
    click(dash_duo, "#users-toggle")
    dash_duo.wait_for_contains_text("#users-result", f"{newcomer} is disabled", timeout=TIMEOUT_S)
    dash_duo.wait_for_text_to_equal("#users-toggle", "Enable", timeout=TIMEOUT_S)
    click(dash_duo, "#users-toggle")
    dash_duo.wait_for_contains_text("#users-result", f"{newcomer} is enabled", timeout=TIMEOUT_S)
    type_into(dash_duo, "#users-reset-password", NEW_PASSWORD)
    click(dash_duo, "#users-reset")
    dash_duo.wait_for_contains_text("#users-result", "password is reset", timeout=TIMEOUT_S)
    dash_duo.driver.save_screenshot(str(screenshots / "admin-users.png"))

    # API tokens: create (secret once, and it works), then revoke (and it stops).
    click(dash_duo, "a[href='/tokens']")
    token_name = unique("ci token")
    type_into(dash_duo, "#tokens-name", token_name)
    click(dash_duo, "#tokens-create")
    dash_duo.wait_for_contains_text("#tokens-secret-value", "twu_", timeout=TIMEOUT_S)
    secret = text_of(dash_duo, "#tokens-secret-value")
    assert dash_duo.find_element("#tokens-secret .tw-copy").is_displayed()
    dash_duo.wait_for_contains_text("#tokens-own-table", token_name, timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text("#tokens-all-table", token_name, timeout=TIMEOUT_S)
    assert secret not in text_of(dash_duo, "#tokens-own-table")
    bearer = {"Authorization": f"Bearer {secret}"}
    me = httpx.get(f"{api_url}/api/auth/me", headers=bearer, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == admin
    dash_duo.driver.save_screenshot(str(screenshots / "admin-tokens.png"))
    click(dash_duo, "#tokens-own-table button")
    assert token_name in accept_confirm(dash_duo)
    dash_duo.wait_for_contains_text("#tokens-result", f"Revoked the token {token_name!r}", timeout=TIMEOUT_S)
    dash_duo.wait_for_contains_text("#tokens-own", "No tokens yet", timeout=TIMEOUT_S)
    assert httpx.get(f"{api_url}/api/auth/me", headers=bearer, timeout=30).status_code == 401

    # Audit log: by VPS, then also by action and user; the page holds at phone width.
    click(dash_duo, "a[href='/admin/audit']")
    dash_duo.wait_for_contains_text("#audit-table", "token.revoke", timeout=TIMEOUT_S)
    choose(dash_duo, "#audit-vps", vps_name)
    targets = _wait_rows(dash_duo, "#audit-table", 3, {f"vps:{vps_id}"})
    assert len(targets) == 2
    assert _cells(dash_duo, "#audit-table", 2) == ["vps.update", "vps.create"]
    choose(dash_duo, "#audit-action", "vps.create")
    _wait_rows(dash_duo, "#audit-table", 2, {"vps.create"})
    choose(dash_duo, "#audit-user", admin)
    assert _wait_rows(dash_duo, "#audit-table", 1, {admin}) == [admin]
    dash_duo.driver.save_screenshot(str(screenshots / "admin-audit.png"))
    dash_duo.driver.set_window_size(390, 844)
    choose(dash_duo, "#audit-action", "vps.update")
    _wait_rows(dash_duo, "#audit-table", 2, {"vps.update"})
    overflow = dash_duo.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    dash_duo.driver.save_screenshot(str(screenshots / "admin-audit-phone.png"))
    dash_duo.driver.set_window_size(1440, 1000)

    # The new user, an operator now, signs in with the reset password: no admin links or contents.
    click(dash_duo, "#app-logout")
    sign_in(dash_duo, newcomer, NEW_PASSWORD)
    dash_duo.wait_for_contains_text("#app-user", newcomer, timeout=TIMEOUT_S)
    _shown(dash_duo, "#app-admin-links", False)
    dash_duo.driver.get(f"{dash_duo.server_url}/admin/users")
    dash_duo.wait_for_contains_text("#users-denied", "for admins", timeout=TIMEOUT_S)
    assert not dash_duo.find_element("#users-admin").is_displayed()

    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []
