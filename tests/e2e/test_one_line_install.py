"""The one-line install, whole, as an operator does it in headless Chromium: an admin
signs in to the real ``tidewatch-dashboards``, sets the collector address on the Settings
page, clicks "+ Add server" and copies the command it shows. That exact text runs in a
clean Debian container (only python3, python3-venv, curl, ca-certificates and sudo): it
fetches the install script and the agent's wheel from the real ``tidewatch-api``, installs
the agent with its dependencies from the package index and writes its config from the
settings; the agent it installed reaches the real collector and the server's card in the
browser turns online.

The collector address comes from the settings, not the environment (which points agents
nowhere), and not from the API's own host.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium.webdriver.common.by import By

from common.tokens import hash_password
from dashboards.live_ids import live_id
from tests.browser import click, css_id, replace_text, retry, sign_in, text_of, type_into
from tests.conftest import ARTIFACTS, create_test_database, drop_test_database, free_port
from tests.dashboards.conftest import SCREENSHOTS
from tests.docker_fixtures import docker_engine
from tests.e2e.clean_vps import ensure_clean_image, host_pip_access
from tests.prerequisites import require_root
from tests.processes import Service

__all__ = ["docker_engine"]

pytestmark = [pytest.mark.db, pytest.mark.docker, pytest.mark.slow, pytest.mark.browser]

ADMIN_PASSWORD = "onboarding-admin-password"
AGENT = "/opt/tidewatch-agent/venv/bin/tidewatch-agent"
# What the script says to run where there is no systemd (a container): the test follows it.
RUN_AGENT = f"runuser -u tidewatch-agent -- {AGENT} --config /etc/tidewatch/agent.toml"
INSTALL_DONE = "/tmp/install.done"
# pip downloads grpcio and friends from the package index on every run (about 30 s here).
INSTALL_LIMIT_S = 480
ONLINE_LIMIT_S = 60
# Wrong on purpose, for every process that reads them: the settings saved in the browser must win.
WRONG_INSTALL_ENV = {
    "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS": "collector.invalid:1",
    "TIDEWATCH_INSTALL_API_URL": "http://api.invalid:1",
}


@dataclass
class InstallStack:
    api_url: str
    dashboards_url: str
    grpc_port: int
    client: httpx.Client
    api: Service
    collector: Service


@pytest.fixture(scope="module")
def install_stack() -> Iterator[InstallStack]:
    require_root("the clean Debian root is built with debootstrap")
    dsn = create_test_database("tidewatch_onboarding")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('admin', %s, 'admin')",
            (hash_password(ADMIN_PASSWORD),),
        )
    grpc_port, api_port, dash_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    collector = Service(
        "collector",
        ["tidewatch-collector"],
        {
            "TIDEWATCH_DSN": dsn,
            "TIDEWATCH_COLLECTOR_LISTEN": f"127.0.0.1:{grpc_port}",
            "TIDEWATCH_COLLECTOR_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        },
        log_name="onboarding-collector",
    )
    api = Service(
        "api",
        ["tidewatch-api"],
        {"TIDEWATCH_DSN": dsn, "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}", **WRONG_INSTALL_ENV},
        log_name="onboarding-api",
    )
    dashboards = Service(
        "dashboards",
        ["tidewatch-dashboards"],
        {
            "TIDEWATCH_DASHBOARDS_LISTEN": f"127.0.0.1:{dash_port}",
            "TIDEWATCH_DASHBOARDS_API_URL": api_url,
            **WRONG_INSTALL_ENV,
        },
        log_name="onboarding-dashboards",
    )
    client = httpx.Client(base_url=api_url, timeout=30)
    try:
        collector.start(grpc_port)
        api.start(api_port)
        dashboards.start(dash_port)
        login = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        yield InstallStack(api_url, f"http://127.0.0.1:{dash_port}", grpc_port, client, api, collector)
    finally:
        client.close()
        dashboards.stop()
        api.stop()
        collector.stop()
        drop_test_database(dsn)


def _wait_for(what: str, limit_s: float, check: Any, explain: Any) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"{what} not within {limit_s:g} s\n{explain()}")


def _exec(container: Any, command: str, user: str = "root") -> tuple[int, str]:
    exit_code, output = container.exec_run(["bash", "-c", command], user=user)
    return exit_code, output.decode(errors="replace")


def _set_collector_address_in_settings(dash_duo: Any, stack: InstallStack) -> None:
    """The Settings page, as an admin: this stack's API and collector, without TLS."""
    click(dash_duo, "a.tw-nav-link[href='/settings']")
    # The form is filled from the environment's (wrong) defaults once the settings load.
    dash_duo.wait_for_text_to_equal("#settings-api-url", WRONG_INSTALL_ENV["TIDEWATCH_INSTALL_API_URL"], 20)
    replace_text(dash_duo, "#settings-api-url", stack.api_url)
    replace_text(dash_duo, "#settings-collector-host", "127.0.0.1")
    replace_text(dash_duo, "#settings-collector-port", str(stack.grpc_port))
    tls = "#settings-collector-tls input[type='checkbox']"
    if retry(lambda: dash_duo.driver.find_element(By.CSS_SELECTOR, tls).is_selected(), "read TLS"):
        click(dash_duo, tls)
    click(dash_duo, "#settings-save")
    dash_duo.wait_for_contains_text("#settings-message", "Saved", timeout=20)


def _add_server(dash_duo: Any, name: str) -> tuple[int, str]:
    """ "+ Add server" on the fleet page: the new server's id (from its card) and the command shown."""
    click(dash_duo, "a.tw-nav-link[href='/']")
    click(dash_duo, "#fleet-add-toggle")
    type_into(dash_duo, "#fleet-add-name", name)
    click(dash_duo, "#fleet-add-submit")
    dash_duo.wait_for_contains_text("#fleet-token-panel", "twa_", timeout=20)
    token = text_of(dash_duo, "#fleet-new-token")
    # The text the copy button copies, not what the screen wraps.
    command = retry(
        lambda: str(dash_duo.driver.find_element(By.ID, "fleet-new-command").get_attribute("textContent")),
        "read the install command",
    )
    assert command.endswith(f" --token {token}"), command
    # The card drawn for it carries the status badge the live feed turns online.
    badge = (
        "//div[contains(@class, 'tw-card-head')]"
        f"[span[contains(@class, 'tw-card-title') and normalize-space() = '{name}']]"
        "/span[contains(@class, 'tw-fleet-status')]"
    )
    element_id = retry(
        lambda: json.loads(dash_duo.driver.find_element(By.XPATH, badge).get_attribute("id")),
        f"find the card of {name}",
    )
    vps_id = int(element_id["vps"])
    assert element_id == live_id(vps_id, "status")
    assert text_of(dash_duo, css_id(element_id)) == "offline"
    return vps_id, command


def test_add_server_in_the_browser_then_its_command_brings_the_server_online(
    install_stack: InstallStack, docker_engine: Any, dash_duo: Any, tmp_path: Path
) -> None:
    image = ensure_clean_image()
    client = install_stack.client
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver = dash_duo.driver
    driver.set_window_size(1440, 1300)
    driver.get(f"{install_stack.dashboards_url}/login")
    sign_in(dash_duo, "admin", ADMIN_PASSWORD)
    _set_collector_address_in_settings(dash_duo, install_stack)

    name = f"clean-debian-{secrets.token_hex(3)}"
    vps_id, command = _add_server(dash_duo, name)
    assert command.startswith(
        f"curl -fsSL {install_stack.api_url}/agent/install.sh | sudo bash -s -- --token "
    ), command
    driver.save_screenshot(str(SCREENSHOTS / "install-added.png"))
    assert client.get(f"/api/vps/{vps_id}").json()["name"] == name
    wheel_version = client.get("/agent/tidewatch-agent.whl").headers["x-agent-version"]

    access = host_pip_access()
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(access.pip_conf())
    volumes = {host: {"bind": inside, "mode": "ro"} for host, inside in access.mounts.items()}
    volumes[str(pip_conf)] = {"bind": "/etc/pip.conf", "mode": "ro"}
    # The operator's paste, then what the script says to do without systemd.
    script = f"set -o pipefail; {command} && touch {INSTALL_DONE} && exec {RUN_AGENT}"
    container = docker_engine.containers.run(
        image,
        ["bash", "-c", script],
        detach=True,
        network_mode="host",
        volumes=volumes,
        labels={"tidewatch.test": "onboarding"},
        name=f"tidewatch-onboarding-{secrets.token_hex(4)}",
    )
    try:

        def logs() -> str:
            return str(container.logs().decode(errors="replace"))[-6000:]

        def installed() -> bool:
            container.reload()
            if container.status == "exited":
                pytest.fail(f"the install command failed in the clean root:\n{logs()}")
            return _exec(container, f"test -e {INSTALL_DONE}")[0] == 0

        _wait_for("the install command finished", INSTALL_LIMIT_S, installed, logs)
        output = logs()
        (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "logs" / "onboarding-install.log").write_text(f"$ {command}\n{output}")
        for step in (
            "==> checking this machine",
            "==> downloading the agent from",
            "==> installing the agent; grpcio, protobuf, psutil and docker come from the package index",
            "==> service user tidewatch-agent",
            f"written: collector 127.0.0.1:{install_stack.grpc_port}, TLS false",
            "==> no systemd on this machine: start the agent yourself",
            f"run: {RUN_AGENT}",
        ):
            assert step in output, output

        # The browser sees it come online: the card's badge, set by the live feed.
        status = css_id(live_id(vps_id, "status"))
        _wait_for(
            "the server's card online",
            ONLINE_LIMIT_S,
            lambda: text_of(dash_duo, status) == "online",
            lambda: f"{logs()}\n{install_stack.collector.log_tail()}",
        )
        # Its first report also fills the card's meters and the fleet's counts.
        dash_duo.wait_for_element(css_id(live_id(vps_id, "cpu")), timeout=30)
        dash_duo.wait_for_contains_text("#fleet-summary", "1 online", timeout=30)
        retry(
            lambda: driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center'})", driver.find_element(By.CSS_SELECTOR, status)
            ),
            "scroll to the card",
        )
        driver.save_screenshot(str(SCREENSHOTS / "install-online.png"))
        vps = client.get(f"/api/vps/{vps_id}").json()
        assert vps["online"], vps
        # The agent that connected is the wheel the API served, not this machine's checkout.
        assert vps["agent_version"] == wheel_version
        frozen = _exec(container, "/opt/tidewatch-agent/venv/bin/python -m pip freeze")[1]
        installed_names = {line.split("==")[0].lower() for line in frozen.split()}
        assert {"grpcio", "protobuf", "psutil", "docker"} <= installed_names
        assert not installed_names & {"psycopg", "litestar", "msgspec", "dash", "pandas"}

        # Idempotent: the same command again succeeds and changes nothing.
        again_code, again = _exec(container, command.replace("| sudo bash", "| bash"))
        assert again_code == 0, again
        assert "    exists" in again and "    unchanged" in again

        # Refusals that say what to do next.
        code, said = _exec(
            container, f"curl -fsSL {shlex.quote(install_stack.api_url)}/agent/install.sh | bash"
        )
        assert code != 0 and "--token is required" in said and "what to do:" in said
        fetch = command.split("| sudo bash")[0]
        code, said = _exec(container, f"{fetch} | bash -s -- --token t", user="nobody")
        assert code != 0 and "needs root" in said and "--dir DIR" in said

        # Told where, it installs for an unprivileged user: no service, and says how to run it.
        home = "/tmp/agent-of-nobody"
        code, said = _exec(container, f"{fetch} | bash -s -- --token t.x --dir {home}", "nobody")
        assert code == 0, said
        assert "==> not installing a service (--dir)" in said
        assert f"run: {home}/venv/bin/tidewatch-agent --config {home}/agent.toml" in said
        mode = _exec(container, f"stat -c '%a %U' {home}/agent.toml")[1]
        assert mode.strip() == "640 nobody", mode
        assert dash_duo.get_logs() == []
    finally:
        container.remove(force=True)
