"""The VPS page's containers tab and command panel in headless Chromium, against the real
stack: dashboards -> API -> collectors -> agent -> Docker engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.browser import click, click_xpath, sign_in, text_of, type_into
from tests.conftest import ARTIFACTS
from tests.docker_fixtures import LabelledContainers, docker_engine, labelled_containers
from tests.e2e.commands_stack import PASSWORD, Stack, start_stack

__all__ = ["docker_engine", "labelled_containers"]

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.docker, pytest.mark.browser]
SHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docker_engine: Any) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("commands-ui"), dashboards=True)


def _sign_in(dash_duo: Any, stack: Stack, username: str) -> None:
    dash_duo.driver.get(f"{stack.dashboards_url}/login")
    sign_in(dash_duo, username, PASSWORD)
    dash_duo.wait_for_contains_text("#fleet-grid", "cmd-a", timeout=20)


def _started_at(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_viewer_sees_no_controls(
    stack: Stack, dash_duo: Any, labelled_containers: LabelledContainers
) -> None:
    container = labelled_containers.run("sleep 3600", name=f"ui-view-{os.getpid()}")
    dash_duo.driver.set_window_size(1440, 1600)
    _sign_in(dash_duo, stack, "viewer")
    dash_duo.driver.get(f"{stack.dashboards_url}/vps/{stack.a.id}")
    dash_duo.wait_for_contains_text("#ops-containers", container.name, timeout=30)
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#ops-containers button") == []
    assert dash_duo.find_element("#ops-run-controls").get_attribute("hidden") is not None
    assert dash_duo.get_logs() == []


def test_restart_from_the_containers_tab_and_echo_in_the_panel(
    stack: Stack, dash_duo: Any, labelled_containers: LabelledContainers
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    container = labelled_containers.run("sleep 3600", name=f"ui-web-{os.getpid()}")
    dash_duo.driver.set_window_size(1440, 1600)
    _sign_in(dash_duo, stack, "operator")
    dash_duo.driver.get(f"{stack.dashboards_url}/vps/{stack.a.id}")
    dash_duo.wait_for_contains_text("#ops-containers", container.name, timeout=30)
    row = f"#ops-ctr-row-{container.name}"
    dash_duo.wait_for_contains_text(row, "running", timeout=30)
    before = _started_at(container)

    click_xpath(dash_duo, f"//tr[@id='{row[1:]}']//button[text()='Restart']")
    deadline = time.monotonic() + 10
    while True:  # the confirm dialog is the browser's own
        try:
            alert = dash_duo.driver.switch_to.alert
            assert container.name in alert.text
            alert.accept()
            break
        except Exception:
            assert time.monotonic() < deadline, "no confirm dialog"
            time.sleep(0.1)
    try:
        dash_duo.wait_for_contains_text("#ops-ctr-status", "succeeded", timeout=60)
    except Exception:
        dash_duo.driver.save_screenshot(str(SHOTS / "commands-containers-failed.png"))
        raise AssertionError(f"no result; browser logs: {dash_duo.get_logs()}") from None
    assert _started_at(container) != before
    dash_duo.wait_for_contains_text(row, "running", timeout=30)
    dash_duo.driver.save_screenshot(str(SHOTS / "commands-containers-restart.png"))

    click(dash_duo, "#ops-tab label:nth-child(2)")
    type_into(dash_duo, "#ops-input", "echo hello from the browser")
    click(dash_duo, "#ops-run")
    dash_duo.wait_for_text_to_equal("#ops-output", "hello from the browser", timeout=60)
    dash_duo.wait_for_contains_text("#ops-run-status", "succeeded", timeout=30)
    dash_duo.wait_for_contains_text("#ops-history", "echo hello from the browser", timeout=30)
    dash_duo.driver.save_screenshot(str(SHOTS / "commands-run-echo.png"))

    click(dash_duo, "#ops-tab label:nth-child(3)")
    dash_duo.wait_for_contains_text("#ops-counters", "Docker sample overruns", timeout=20)
    dash_duo.wait_for_contains_text("#ops-counters", "docker_action", timeout=20)  # allowed kinds
    assert "Last heartbeat" in text_of(dash_duo, "#ops-counters")
    dash_duo.driver.save_screenshot(str(SHOTS / "commands-agent-counters.png"))
    assert dash_duo.get_logs() == []
