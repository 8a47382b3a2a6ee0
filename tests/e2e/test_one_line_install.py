"""The one-line install, whole: in a clean Debian container (only python3, python3-venv,
curl, ca-certificates and sudo), the exact command the API gives for a new server fetches
the install script and the agent's wheel from the real ``tidewatch-api``, installs the
agent with its dependencies from the package index, writes its config from the settings,
and the agent it installed turns the server online through the real collector.

The collector address comes from the settings API, not the environment (which points
agents nowhere), and not from the API's own host.
"""

from __future__ import annotations

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

from common.tokens import hash_password
from tests.conftest import ARTIFACTS, create_test_database, drop_test_database, free_port
from tests.docker_fixtures import docker_engine
from tests.e2e.clean_vps import ensure_clean_image, host_pip_access
from tests.prerequisites import require_root
from tests.processes import Service

__all__ = ["docker_engine"]

pytestmark = [pytest.mark.db, pytest.mark.docker, pytest.mark.slow]

ADMIN_PASSWORD = "onboarding-admin-password"
AGENT = "/opt/tidewatch-agent/venv/bin/tidewatch-agent"
# What the script says to run where there is no systemd (a container): the test follows it.
RUN_AGENT = f"runuser -u tidewatch-agent -- {AGENT} --config /etc/tidewatch/agent.toml"
INSTALL_DONE = "/tmp/install.done"
# pip downloads grpcio and friends from the package index on every run (about 30 s here).
INSTALL_LIMIT_S = 480
ONLINE_LIMIT_S = 60


@dataclass
class InstallStack:
    api_url: str
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
    grpc_port, api_port = free_port(), free_port()
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
        {
            "TIDEWATCH_DSN": dsn,
            "TIDEWATCH_API_LISTEN": f"127.0.0.1:{api_port}",
            # Wrong on purpose: the settings stored through the API must win.
            "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS": "collector.invalid:1",
            "TIDEWATCH_INSTALL_API_URL": "http://api.invalid:1",
        },
        log_name="onboarding-api",
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
    try:
        collector.start(grpc_port)
        api.start(api_port)
        login = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        yield InstallStack(f"http://127.0.0.1:{api_port}", grpc_port, client, api, collector)
    finally:
        client.close()
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


def test_the_add_server_command_installs_an_agent_that_comes_online(
    install_stack: InstallStack, docker_engine: Any, tmp_path: Path
) -> None:
    image = ensure_clean_image()
    client = install_stack.client
    settings = client.patch(
        "/api/settings",
        json={
            "public_api_url": install_stack.api_url,
            "collector_host": "127.0.0.1",
            "collector_port": install_stack.grpc_port,
            "collector_tls": False,
        },
    )
    assert settings.status_code == 200, settings.text
    created = client.post("/api/vps", json={"name": f"clean-debian-{secrets.token_hex(3)}"})
    assert created.status_code == 201, created.text
    vps_id, command = created.json()["vps"]["id"], created.json()["install_command"]
    assert command.startswith(
        f"curl -fsSL {install_stack.api_url}/agent/install.sh | sudo bash -s -- --token "
    )
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

        def online() -> dict[str, Any] | None:
            vps = client.get(f"/api/vps/{vps_id}").json()
            return vps if vps["online"] else None

        vps = _wait_for(
            "the server online",
            ONLINE_LIMIT_S,
            online,
            lambda: f"{logs()}\n{install_stack.collector.log_tail()}",
        )
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
    finally:
        container.remove(force=True)
