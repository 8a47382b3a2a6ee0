"""The fleet page in headless Chromium against the real API: the table view, a label
filter, search, the URL that reproduces the view, the remembered toggle, a phone width."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg.types.json import Jsonb

from common.settings import DashboardSettings
from dashboards.app import create_app
from tests.api.conftest import PASSWORD, unique
from tests.browser import STEP_TIMEOUT_S, click_xpath, retry, sign_in, type_into
from tests.conftest import free_port
from tests.dashboards.conftest import DemoFleet

pytestmark = [pytest.mark.browser, pytest.mark.db]

PHONE_WIDTH_PX = 390


@dataclass(frozen=True)
class Labelled:
    """Three servers named ``<tag>-web``, ``<tag>-db`` (env=prod) and ``<tag>-edge`` (env=staging)."""

    tag: str
    ids: dict[str, int]


@pytest.fixture(scope="module")
def labelled(db_dsn: str) -> Labelled:
    tag = unique("fv")
    ids = {}
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        for name, labels in (
            ("web", {"env": "prod", "role": "web"}),
            ("db", {"env": "prod", "role": "db"}),
            ("edge", {"env": "staging", "role": "web"}),
        ):
            row = conn.execute(
                "INSERT INTO vps (name, ip_address, agent_key_id, agent_token_hash, labels, hostname, online)"
                " VALUES (%s, '192.0.2.10', %s, 'x', %s, %s, false) RETURNING id",
                (f"{tag}-{name}", unique("k"), Jsonb(labels), f"{name}.{tag}.example.net"),
            ).fetchone()
            assert row is not None
            ids[name] = int(row[0])
    return Labelled(tag, ids)


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not retry(check, what):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {STEP_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def _rows(dash_duo: Any) -> set[str]:
    """The server names the table shows."""
    links = dash_duo.driver.find_elements("css selector", ".tw-fleet-table .tw-fleet-name a")
    return {link.text for link in links}


def test_table_view_label_filter_search_and_a_link_that_reproduces_them(
    dash_duo: Any, api_url: str, demo_fleet: DemoFleet, labelled: Labelled, screenshots: Path
) -> None:
    web, db, edge = (f"{labelled.tag}-{name}" for name in ("web", "db", "edge"))
    app = create_app(DashboardSettings(api_url=api_url, live_refresh_ms=5000))
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_window_size(1440, 1000)
    sign_in(dash_duo, demo_fleet.username, PASSWORD)

    # A small fleet and no remembered choice: cards.
    dash_duo.wait_for_contains_text("#fleet-grid", edge, timeout=STEP_TIMEOUT_S)
    dash_duo.wait_for_element(f".tw-vps-card[href='/vps/{labelled.ids['web']}']")
    dash_duo.driver.save_screenshot(str(screenshots / "fleet-cards.png"))

    click_xpath(dash_duo, "//div[@id='fleet-view']//label[normalize-space()='Table']")
    dash_duo.wait_for_element(".tw-fleet-table", timeout=STEP_TIMEOUT_S)
    _until(lambda: {web, db, edge, demo_fleet.busy_vps_name} <= _rows(dash_duo), "all servers in the table")

    type_into(dash_duo, "#fleet-labels", "env=prod")
    _until(lambda: {web, db} <= _rows(dash_duo) and edge not in _rows(dash_duo), "the env=prod filter")
    assert demo_fleet.busy_vps_name not in _rows(dash_duo)  # no labels at all

    type_into(dash_duo, "#fleet-search", f"{labelled.tag} web")
    _until(lambda: _rows(dash_duo) == {web}, "the search within the filter")
    assert "1 of " in dash_duo.find_element("#fleet-count").text
    dash_duo.driver.save_screenshot(str(screenshots / "fleet-table.png"))

    # The URL holds the view; opening it again shows the same.
    link = dash_duo.driver.current_url
    assert parse_qs(urlsplit(link).query) == {
        "view": ["table"],
        "q": [f"{labelled.tag} web"],
        "label": ["env=prod"],
    }
    dash_duo.driver.get(link)
    _until(lambda: _rows(dash_duo) == {web}, "the view reproduced from its link")
    assert dash_duo.find_element("#fleet-labels").get_attribute("value") == "env=prod"

    # Without a view in the URL, the browser remembers the table.
    dash_duo.driver.get(f"{dash_duo.server_url}/")
    _until(lambda: {web, db, edge} <= _rows(dash_duo), "the remembered table view")

    # A phone: the page does not spill sideways; the table folds its host and label columns.
    dash_duo.driver.set_window_size(PHONE_WIDTH_PX, 900)
    _until(
        lambda: not dash_duo.find_element(".tw-fleet-table .tw-col-host").is_displayed(),
        "the host column folded",
    )
    grid_right = dash_duo.driver.execute_script(
        "return document.getElementById('fleet-grid').getBoundingClientRect().right"
    )
    assert grid_right <= dash_duo.driver.execute_script("return window.innerWidth")
    dash_duo.driver.save_screenshot(str(screenshots / "fleet-table-phone.png"))

    logs = dash_duo.get_logs()
    for entry in logs:
        print("BROWSER LOG:", entry["message"])
    assert logs == []
