"""Every page in a real headless Chromium, in both themes and at phone width, with no
console errors; and the public status page, signed out, with nothing private in it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import DictRow, dict_row
from selenium.webdriver.common.by import By

from common.api_models import Role
from common.settings import DashboardSettings
from dashboards.app import create_app
from dashboards.theme import THEME_STORAGE_KEY, TOGGLE_ID
from tests.api.conftest import PASSWORD, create_user, unique
from tests.browser import click, retry, sign_in
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]


@dataclass(frozen=True)
class SitePage:
    """A page to visit: its path (``{vps_id}`` is the demo fleet's busy server) and an
    element that shows it has rendered its data."""

    name: str
    path: str
    ready: str
    signed_in: bool = True


# Every page of the dashboards. A new page adds one line here, and is then visited in
# both themes and at phone width, screenshotted, and held to an empty console.
PAGES = (
    SitePage("login", "/login", "#login-submit", signed_in=False),
    SitePage("fleet", "/", "#fleet-grid .tw-vps-card"),
    SitePage("vps", "/vps/{vps_id}", "#vps-cpu .scatterlayer .trace"),
    SitePage("alerts", "/alerts", "#alerts-rules > *"),
    SitePage("traffic", "/traffic", "#traffic-table"),
    SitePage("billing", "/billing", "#billing-body > *"),
    SitePage("status", "/status", "#status-headline"),
    SitePage("status-admin", "/admin/status-page", "#status-admin-table"),
    SitePage("users", "/admin/users", "#users-table-wrap > *"),
    SitePage("audit", "/admin/audit", "#audit-table-wrap > *"),
    SitePage("tokens", "/tokens", "#tokens-create"),
    SitePage("settings", "/settings", "#settings-registration"),
)
# (theme, window width, height): wide in both themes, then a phone in each.
VIEWS = (("dark", 1440, 1000), ("light", 1440, 1000), ("dark", 390, 844), ("light", 390, 844))
PAGE_TIMEOUT_S = 30


@dataclass(frozen=True)
class StatusFleet:
    """Servers on the public page (public names) and one kept off it."""

    admin: str
    shown_names: tuple[str, ...]
    private: tuple[str, ...]
    unnamed_vps: str


@pytest.fixture(scope="module")
def status_fleet(db_dsn: str, demo_fleet: DemoFleet) -> Iterator[StatusFleet]:
    """An admin, and the public page on: the demo's busy server as "Checkout", a server
    without a public name, and one hidden server; restored to off afterwards."""
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, admin = create_user(conn, Role.ADMIN, PASSWORD, unique("root"))
        plain, hidden = (
            _vps(conn, unique("plain"), "192.0.2.81"),
            _vps(conn, unique("hidden"), "192.0.2.82"),
        )
        busy = conn.execute("SELECT name, ip_address, hostname FROM vps WHERE id = %s",
                            (demo_fleet.busy_vps_id,)).fetchone()  # fmt: skip
        assert busy is not None
        conn.execute("UPDATE status_page SET enabled = true, title = 'Example status'")
        conn.execute("DELETE FROM status_page_groups")
        conn.execute(
            "INSERT INTO status_page_groups (position, title) VALUES (0, 'Shop'), (1, 'Back office')"
        )
        conn.execute(
            "INSERT INTO status_page_servers (vps_id, group_position, position, display_name)"
            " VALUES (%s, 0, 0, 'Checkout'), (%s, 1, 0, NULL)",
            (demo_fleet.busy_vps_id, plain["id"]),
        )
        # (The busy server's address is also the add form's example placeholder: its name and host stand in.)
        private = (
            busy["name"], busy["hostname"], plain["name"], plain["ip_address"],
            plain["hostname"], hidden["name"], hidden["ip_address"], hidden["hostname"], "secret-label",
            f'"vps":{hidden["id"]}', f"/vps/{hidden['id']}", f"/vps/{plain['id']}",
        )  # fmt: skip
        yield StatusFleet(admin, ("Checkout", "Server 2"), private, plain["name"])
        conn.execute("UPDATE status_page SET enabled = false")


def _vps(conn: psycopg.Connection[DictRow], name: str, ip: str) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, hostname, labels, online, created_at)"
        " VALUES (%s, %s, %s, 'x', %s, '{\"team\": \"secret-label\"}', true, now() - interval '3 days')"
        " RETURNING id, name, ip_address, hostname",
        (name, ip, unique("k"), f"{name}.internal.example"),
    ).fetchone()
    assert row is not None
    return row


# Dash logs its errors as objects, which the browser log shows as just "Object".
_SPELL_OUT_ERRORS = """
var original = console.error;
console.error = function () {
    var parts = Array.prototype.slice.call(arguments).map(function (value) {
        try { return JSON.stringify(value, Object.getOwnPropertyNames(Object(value))).slice(0, 800); }
        catch (e) { return String(value); }
    });
    original.call(console, parts.join(' | '));
};
"""


def _readable_console_errors(dash_duo: Any) -> None:
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _SPELL_OUT_ERRORS})


def _wait_for_api_page(api_url: str, title: str, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(api_url + "/api/status-page", timeout=timeout_s)
        if response.status_code == 200 and response.json()["title"] == title:
            return
        assert time.monotonic() < deadline, f"the API never served the page: {response.text}"
        time.sleep(0.5)


def _severe(dash_duo: Any) -> list[str]:
    entries = dash_duo.driver.get_log("browser")
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


def _theme(dash_duo: Any) -> str:
    return str(dash_duo.driver.execute_script("return document.documentElement.getAttribute('data-theme')"))


def _open(dash_duo: Any, base: str, page: SitePage, vps_id: int) -> None:
    dash_duo.driver.get(base + page.path.format(vps_id=vps_id))
    dash_duo.wait_for_element(page.ready, timeout=PAGE_TIMEOUT_S)


def test_the_status_page_signed_out_shows_no_private_field(
    dash_duo: Any, api_url: str, status_fleet: StatusFleet, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1200, 900)
    _readable_console_errors(dash_duo)
    # The API may still hold the page from before the fixture turned it on (5 s at most).
    _wait_for_api_page(api_url, "Example status")
    dash_duo.driver.get(dash_duo.server_url + "/status")
    dash_duo.wait_for_contains_text("#status-title", "Example status", timeout=PAGE_TIMEOUT_S)
    for name in status_fleet.shown_names:
        dash_duo.wait_for_contains_text("#status-body", name)
    # Still on /status: signed out, it is not sent to the sign-in form.
    assert dash_duo.driver.current_url.endswith("/status")
    body = dash_duo.find_element("#status-body").text.lower()
    assert "24 h" in body and "30 d" in body and "%" in body, body
    source = dash_duo.driver.page_source
    leaked = [field for field in status_fleet.private if field in source]
    assert leaked == [], leaked
    dash_duo.driver.save_screenshot(str(screenshots / "status-public.png"))
    assert _severe(dash_duo) == []


def test_every_page_in_both_themes_and_at_phone_width_has_no_console_error(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, status_fleet: StatusFleet, screenshots: Path
) -> None:
    app = create_app(DashboardSettings(api_url=api_url))
    dash_duo.start_server(app, port=free_port())
    base = dash_duo.server_url
    _readable_console_errors(dash_duo)
    # The remembered theme is applied in <head>, before any stylesheet: no flash of the other one.
    html = httpx.get(base + "/login", timeout=30).text
    assert html.index(THEME_STORAGE_KEY) < html.index('rel="stylesheet"')

    dash_duo.driver.set_window_size(1440, 1000)
    _open(dash_duo, base, PAGES[0], demo_fleet.busy_vps_id)
    assert _theme(dash_duo) == "dark"
    # The toggle switches at once and is remembered across loads.
    click(dash_duo, f"#{TOGGLE_ID}")
    # The button's new label is set after the theme, in the same callback.
    dash_duo.wait_for_text_to_equal(f"#{TOGGLE_ID}", "☾", timeout=PAGE_TIMEOUT_S)
    assert _theme(dash_duo) == "light"
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(PAGES[0].ready, timeout=PAGE_TIMEOUT_S)
    assert _theme(dash_duo) == "light"
    sign_in(dash_duo, status_fleet.admin, PASSWORD)
    dash_duo.wait_for_element("#fleet-grid", timeout=PAGE_TIMEOUT_S)
    assert _severe(dash_duo) == []

    # The admin form: the unnamed server gets a public name, and the page shows it.
    dash_duo.driver.get(base + "/admin/status-page")
    name_input = f"//tr[contains(., '{status_fleet.unnamed_vps}')]//input[@placeholder='Server N']"
    retry(
        lambda: dash_duo.driver.find_element(By.XPATH, name_input).send_keys("Billing API"), "type the name"
    )
    click(dash_duo, "#status-admin-save")
    dash_duo.wait_for_contains_text(
        "#status-admin-result", "Saved: 2 servers in 2 groups; the page is published"
    )
    shown = httpx.get(api_url + "/api/status-page", timeout=30).json()
    assert [s["name"] for g in shown["groups"] for s in g["servers"]] == ["Checkout", "Billing API"]

    errors: dict[str, list[str]] = {}
    started = time.monotonic()
    for theme, width, height in VIEWS:
        dash_duo.driver.execute_script(f"localStorage.setItem('{THEME_STORAGE_KEY}', '{theme}')")
        dash_duo.driver.set_window_size(width, height)
        for page in PAGES:
            if not page.signed_in:
                continue
            _open(dash_duo, base, page, demo_fleet.busy_vps_id)
            assert _theme(dash_duo) == theme
            # Nothing sticks out sideways at phone width (tables scroll inside themselves).
            overflow = dash_duo.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{page.name} at {width} px is {overflow} px too wide"
            dash_duo.driver.save_screenshot(str(screenshots / f"looks-{page.name}-{theme}-{width}.png"))
            if severe := _severe(dash_duo):
                errors[f"{page.name} {theme} {width}px"] = severe
    print(f"visited {len(PAGES) - 1} pages in {len(VIEWS)} views in {time.monotonic() - started:.1f} s")
    assert errors == {}
