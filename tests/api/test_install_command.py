"""How a new VPS's agent is started comes from the ``TIDEWATCH_INSTALL_*`` settings: the
environment-variable command ``tidewatch-admin`` prints (the real ``tidewatch-agent``
understands it), and, through the real ``tidewatch-api``, the one-line install and the
script it fetches (tests/api/test_settings.py covers the stored settings that override them)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from agent.config import load_config
from common.api_models import Role
from common.install import install_command
from common.settings import InstallSettings
from tests.api.conftest import PASSWORD, create_user, unique
from tests.conftest import free_port
from tests.processes import BIN, Service

pytestmark = pytest.mark.db


def agent_environment(command: str) -> dict[str, str]:
    """The ``NAME=value`` words before ``tidewatch-agent`` in ``command``."""
    *assignments, program = shlex.split(command)
    assert program == "tidewatch-agent", command
    return dict(word.split("=", 1) for word in assignments)


def check_with_the_agent(command: str, tmp_path: Path) -> str:
    """Run the command as a shell would, with ``--check-config``; return what the agent says."""
    empty = tmp_path / "agent.toml"
    empty.write_text("")
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "TIDEWATCH_AGENT_CONFIG": str(empty)}
    result = subprocess.run(
        ["bash", "-c", f"{command} --check-config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_command_carries_address_tls_and_ca_to_the_agent(tmp_path: Path) -> None:
    ca = tmp_path / "ca with space.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    cases = [
        (InstallSettings(), "127.0.0.1:50051", True, None),
        (InstallSettings(collector_address="c.example.com:443", tls=False), "c.example.com:443", False, None),
        (
            InstallSettings(collector_address="[2001:db8::7]:50051", ca_file=str(ca)),
            "[2001:db8::7]:50051",
            True,
            ca,
        ),
    ]
    for settings, address, tls, ca_file in cases:
        command = install_command(settings, "twa_k.s'cret")
        agent = load_config(environ=agent_environment(command))
        assert agent.server.address == address
        assert agent.server.token == "twa_k.s'cret"
        assert agent.tls.enabled is tls
        assert agent.tls.ca_file == ca_file


def test_admin_create_vps_prints_the_configured_command(db_dsn: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_STATE": str(tmp_path),
        "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS": "collector.example.net:7443",
        "TIDEWATCH_INSTALL_TLS": "false",
    }
    admin = str(Path(sys.executable).parent / "tidewatch-admin")
    result = subprocess.run(
        [admin, "create-vps", unique("vps")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    [command] = [
        line.split(": ", 1)[1] for line in result.stderr.splitlines() if line.startswith("start its agent")
    ]
    assert agent_environment(command)["TIDEWATCH_AGENT_TOKEN"] == token
    said = check_with_the_agent(command, tmp_path)
    assert "collector: collector.example.net:7443 (tls OFF)" in said


def test_a_bad_install_setting_stops_admin_before_creating(db_dsn: str, tmp_path: Path) -> None:
    name = unique("vps")
    env = {**os.environ, "TIDEWATCH_DSN": db_dsn, "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS": "no-port-here"}
    admin = str(Path(sys.executable).parent / "tidewatch-admin")
    result = subprocess.run([admin, "create-vps", name], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "TIDEWATCH_INSTALL_" in result.stderr and "no-port-here" in result.stderr
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vps WHERE name = %s", (name,)).fetchone() == (0,)


class ConfiguredApi(NamedTuple):
    url: str
    ca: Path
    log_path: Path
    log_offset: int  # where this process's lines begin in the (appended) log

    def own_log(self) -> str:
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")


@pytest.fixture(scope="module")
def configured_api(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConfiguredApi]:
    """The real ``tidewatch-api``, told agents reach the collector over TLS with a private CA."""
    ca = tmp_path_factory.mktemp("ca") / "tidewatch-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    port = free_port()
    service = Service(
        "api",
        ["tidewatch-api"],
        env={
            "TIDEWATCH_DSN": db_dsn,
            "TIDEWATCH_API_LISTEN": f"127.0.0.1:{port}",
            "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS": "collector.example.net:443",
            "TIDEWATCH_INSTALL_TLS": "true",
            "TIDEWATCH_INSTALL_CA_FILE": str(ca),
            "TIDEWATCH_INSTALL_API_URL": "https://tw.example.net",
        },
        log_name="install-command-api",
    )
    offset = service.log_path.stat().st_size if service.log_path.exists() else 0
    service.start(port)
    yield ConfiguredApi(f"http://127.0.0.1:{port}", ca, service.log_path, offset)
    service.stop()


def test_the_api_serves_on_uvloop_with_the_httptools_parser(configured_api: ConfiguredApi) -> None:
    # The line is written from inside the running loop, before the port is bound.
    lines = [line for line in configured_api.own_log().splitlines() if "serving on event loop" in line]
    assert len(lines) == 1, configured_api.own_log()
    assert lines[0].endswith(
        f"serving on event loop uvloop.Loop (uvloop {version('uvloop')}),"
        " HTTP parser uvicorn.protocols.http.httptools_impl.HttpToolsProtocol"
    )


def test_the_api_shows_the_configured_command_on_create_and_rotate(
    configured_api: ConfiguredApi, db_dsn: str
) -> None:
    url, ca = configured_api.url, configured_api.ca
    with psycopg.connect(db_dsn, autocommit=True, row_factory=dict_row) as conn:
        _, username = create_user(conn, Role.OPERATOR, PASSWORD)
    with httpx.Client(base_url=url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        # Asked for by another host name than the collector's: the setting wins, not the request.
        created = client.post("/api/vps", json={"name": unique("vps")})
        assert created.status_code == 201, created.text
        rotated = client.post(f"/api/vps/{created.json()['vps']['id']}/rotate-token")
        assert rotated.status_code in (200, 201), rotated.text
        script = client.get("/agent/install.sh")
        assert script.status_code == 200, script.text
    for body in (created.json(), rotated.json()):
        assert body["install_command"] == (
            "curl -fsSL https://tw.example.net/agent/install.sh | sudo bash -s -- "
            f"--token {body['agent_token']}"
        )
    # The script the command fetches carries the collector settings, not the API's host.
    assert "\nTW_COLLECTOR=collector.example.net:443\n" in script.text
    assert "\nTW_TLS=true\n" in script.text and f"\nTW_CA_FILE={ca}\n" in script.text


@pytest.mark.parametrize("module", ["uvloop", "httptools"])
def test_without_uvloop_or_httptools_the_api_stops_naming_it(
    module: str, db_dsn: str, tmp_path: Path
) -> None:
    # A module of that name that cannot be imported, found first: as if the wheel were missing.
    (tmp_path / f"{module}.py").write_text(f'raise ImportError("No module named {module!r}")\n')
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_API_LISTEN": f"127.0.0.1:{free_port()}",
    }
    result = subprocess.run([str(BIN / "tidewatch-api")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "needs uvloop and httptools" in result.stderr and f"No module named '{module}'" in result.stderr
    assert "serving on event loop" not in result.stderr


def test_a_bad_install_setting_stops_the_api_naming_it(db_dsn: str) -> None:
    env = {
        **os.environ,
        "TIDEWATCH_DSN": db_dsn,
        "TIDEWATCH_API_LISTEN": f"127.0.0.1:{free_port()}",
        "TIDEWATCH_INSTALL_TLS": "false",
        "TIDEWATCH_INSTALL_CA_FILE": "/etc/ssl/ca.pem",
    }
    result = subprocess.run([str(BIN / "tidewatch-api")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "TIDEWATCH_INSTALL_" in result.stderr and "ca_file is set but tls is false" in result.stderr
