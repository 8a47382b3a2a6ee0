"""compose.yaml is the production path: check it with Debian's docker-compose and by content."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent import config as agent_config
from agent.config import AgentSettings, load_config
from common.settings import INSTALL_PREFIX, InstallSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def compose_config(env_file: Path) -> dict[str, Any]:
    """The file as docker-compose itself resolves it (anchors, defaults, interpolation)."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail(
            "docker-compose is not installed; scripts/setup.sh --test installs Debian's docker-compose"
        )
    env = {**os.environ, "TIDEWATCH_DB_PASSWORD": "secret-for-test", "TIDEWATCH_AGENT_TOKEN": "twa_x"}
    out = subprocess.run(
        [
            compose,
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "compose.yaml"),
            "--profile",
            "agent",
            "config",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    ).stdout
    parsed: dict[str, Any] = yaml.safe_load(out)
    return parsed


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ``docker compose --profile agent up`` runs with an empty .env."""
    empty_env = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env.write_text("")
    return compose_config(empty_env)


def agent_settings(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> AgentSettings:
    """The compose agent's environment, read by the agent's own config loader."""
    monkeypatch.setattr(agent_config, "DEFAULT_CONFIG_PATH", Path("/nonexistent/agent.toml"))
    return load_config(environ={k: str(v) for k, v in service["environment"].items()})


def install_settings(service: dict[str, Any]) -> InstallSettings:
    return load_settings(
        InstallSettings, INSTALL_PREFIX, {k: str(v) for k, v in service["environment"].items()}
    )


def test_compose_has_every_service(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {"db", "migrate", "collector", "alerts", "api", "dashboards", "agent"}


def test_database_is_the_official_timescaledb_image(resolved: dict[str, Any]) -> None:
    db = resolved["services"]["db"]
    assert db["image"].startswith("timescale/timescaledb:")
    assert "healthcheck" in db


def test_migrate_runs_once_before_the_services(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["migrate"]["command"] == ["tidewatch-migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("collector", "alerts", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_agent_sees_the_host_and_docker(resolved: dict[str, Any]) -> None:
    agent = resolved["services"]["agent"]
    assert agent["pid"] == "host"
    assert agent["network_mode"] == "host"
    assert any("/var/run/docker.sock" in str(v) for v in agent["volumes"])
    # Container stats are read from the host's cgroup files, mounted read-only.
    cgroups = [v for v in agent["volumes"] if str(v).startswith("/sys/fs/cgroup:")]
    assert cgroups == ["/sys/fs/cgroup:/host/sys/fs/cgroup:ro"]
    assert agent["environment"]["TIDEWATCH_AGENT_DOCKER_CGROUP_ROOT"] == "/host/sys/fs/cgroup"


def test_web_ports_bind_to_loopback_by_default(resolved: dict[str, Any]) -> None:
    for name in ("api", "dashboards", "db"):
        for port in resolved["services"][name]["ports"]:
            host_ip = port["host_ip"] if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)


def test_password_is_required(tmp_path: Path) -> None:
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    compose = shutil.which("docker-compose")
    assert compose is not None
    env = {k: v for k, v in os.environ.items() if k != "TIDEWATCH_DB_PASSWORD"}
    result = subprocess.run(
        [compose, "--env-file", str(empty_env), "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "TIDEWATCH_DB_PASSWORD" in result.stderr


def test_out_of_the_box_the_agent_speaks_plaintext_like_the_collector(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = resolved["services"]
    # No certificate: the collector serves plaintext (collector/server.py), so must the agent.
    assert services["collector"]["environment"]["TIDEWATCH_COLLECTOR_TLS_CERT_FILE"] == ""
    agent = agent_settings(services["agent"], monkeypatch)
    assert agent.tls.enabled is False
    assert agent.server.address == "127.0.0.1:50051"
    # And the command shown for other VPSes says the same.
    assert install_settings(services["api"]) == InstallSettings(
        collector_address="127.0.0.1:50051", tls=False
    )


def test_with_a_certificate_agents_are_told_to_use_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "tls.env"
    env_file.write_text(
        "TIDEWATCH_TLS_CERT_FILE=/tls/collector.crt\n"
        "TIDEWATCH_TLS_KEY_FILE=/tls/collector.key\n"
        "TIDEWATCH_INSTALL_COLLECTOR_ADDRESS=collector.example.com:50051\n"
        "TIDEWATCH_INSTALL_TLS=true\n"
        "TIDEWATCH_INSTALL_CA_FILE=/etc/tidewatch/ca.crt\n"
        "TIDEWATCH_LOCAL_AGENT_TLS_SERVER_NAME=collector.example.com\n"
    )
    services = compose_config(env_file)["services"]
    assert services["collector"]["environment"]["TIDEWATCH_COLLECTOR_TLS_CERT_FILE"] == "/tls/collector.crt"
    agent = agent_settings(services["agent"], monkeypatch)
    assert (agent.tls.enabled, agent.tls.server_name) == (True, "collector.example.com")
    expected = InstallSettings(
        collector_address="collector.example.com:50051", tls=True, ca_file="/etc/tidewatch/ca.crt"
    )
    assert install_settings(services["api"]) == expected
