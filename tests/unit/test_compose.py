"""compose.yaml is the production path: check it with Debian's docker-compose and by content."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The file as docker-compose itself resolves it (anchors, defaults, interpolation)."""
    empty_env = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env.write_text("")
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
            str(empty_env),
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
