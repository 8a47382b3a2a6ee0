"""scripts/install-agent.sh, the install from a checkout: it hands the local wheel to the
served one-line install script (api/agent_install/install.sh). Syntax, clear refusals, and
a real install into a temporary directory."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-agent.sh"
BODY = ROOT / "api" / "agent_install" / "install.sh"
UNIT = ROOT / "packaging" / "systemd" / "tidewatch-agent.service"


def _install(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_scripts_parse() -> None:
    for script in (SCRIPT, BODY):
        subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "SOURCE"),
        (["/no/such/wheel.whl"], "does not exist"),
        (["--bogus", "WHEEL"], "unknown option --bogus"),
        (["--token", "t", "WHEEL"], "--server host:port is required"),
        (["--server", "c:1", "WHEEL"], "--token is required"),
        (["--server", 'c:1"', "--token", "t", "WHEEL"], "is not host:port"),
    ],
)
def test_bad_invocations_fail_clearly(tmp_path: Path, args: list[str], message: str) -> None:
    # The served script checks its options before it reads the wheel: an empty file will do.
    wheel = tmp_path / "tidewatch-0-py3-none-any.whl"
    wheel.write_bytes(b"")
    args = [str(wheel) if arg == "WHEEL" else arg for arg in args]
    result = _install("--root", str(tmp_path / "agent"), *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_unit_is_hardened_and_restarts() -> None:
    text = UNIT.read_text()
    for directive in (
        "User=tidewatch-agent",
        "Restart=always",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/tidewatch-agent",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "KillSignal=SIGTERM",
        "ExecStart=/opt/tidewatch-agent/venv/bin/tidewatch-agent --config /etc/tidewatch/agent.toml",
    ):
        assert directive in text


@pytest.mark.slow
def test_real_install_into_a_temporary_directory(tmp_path: Path) -> None:
    target = tmp_path / "agent"
    args = ("--root", str(target), "--server", "127.0.0.1:50051", "--token", "tok", "--no-tls", str(ROOT))
    result = _install(*args, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "building a wheel" in result.stdout and "sha256 checked" in result.stdout
    venv = target / "venv"
    config = target / "agent.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert 'address = "127.0.0.1:50051"' in config.read_text()
    check = subprocess.run(
        [str(venv / "bin" / "tidewatch-agent"), "--check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TIDEWATCH_")},
    )
    assert check.returncode == 0, check.stderr
    freeze = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    )
    installed = {line.split("==")[0].lower() for line in freeze.stdout.splitlines()}
    assert {"grpcio", "protobuf", "psutil", "docker"} <= installed
    assert not installed & {"pandas", "dash", "psycopg", "litestar", "msgspec", "plotly"}
    # Idempotent, as the served script is: a second run rewrites the config from the
    # options and keeps the operator's edited one beside it.
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    again = _install(*args, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "the old one is kept" in again.stdout
    assert (target / "agent.toml.previous").read_text().endswith("# edited by the operator\n")
    assert "# edited by the operator" not in config.read_text()
