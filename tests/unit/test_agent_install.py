"""scripts/install-agent.sh: syntax, dry run, and a real install into a temporary root."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.prerequisites import missing

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-agent.sh"
UNIT = ROOT / "packaging" / "systemd" / "tidewatch-agent.service"


def _install(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_dry_run_shows_every_action_and_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "root"
    result = _install(
        "--dry-run", "--root", str(target), "--server", "c.example.com:50051", "--token", "tok", str(ROOT)
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"venv {target}/opt/tidewatch-agent/venv" in out
    # The plain package: no extras, so only grpcio, protobuf, psutil and docker come along.
    assert f"pip install --quiet --disable-pip-version-check --upgrade {ROOT}\n" in out
    assert "[server]" not in out and "[dev]" not in out
    assert f"install -m 0644 {ROOT}/scripts/../packaging/systemd/tidewatch-agent.service" in out
    assert "writing (mode 0640" in out
    assert not target.exists()


def test_dry_run_on_the_real_system_plans_user_and_service() -> None:
    if Path("/etc/tidewatch/agent.toml").exists():
        missing("a machine without an installed agent (/etc/tidewatch/agent.toml exists)")
    result = _install("--dry-run", "--server", "c.example.com:50051", "--token", "tok", "--docker", str(ROOT))
    assert result.returncode == 0, result.stderr
    if subprocess.run(["id", "-u", "tidewatch-agent"], capture_output=True).returncode != 0:
        assert "useradd --system" in result.stdout
    assert "chown root:tidewatch-agent /etc/tidewatch" in result.stdout
    assert not Path("/opt/tidewatch-agent/venv").exists() or "exists" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "SOURCE"),
        (["/no/such/wheel.whl"], "does not exist"),
        (["--bogus", "."], "unknown option --bogus"),
        (["--token", "t", "."], "--server host:port is required"),
        (["--server", "c:1", "."], "--token is required"),
        (["--server", 'c:1"', "--token", "t", "."], "quotes"),
    ],
)
def test_bad_invocations_fail_clearly(tmp_path: Path, args: list[str], message: str) -> None:
    if args and args[-1] == ".":
        args = [*args[:-1], str(ROOT)]
    # The venv step would run first; point --root at a ready fake venv to reach the config step.
    venv_python = tmp_path / "opt" / "tidewatch-agent" / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(shutil.which("true") or "/bin/true")
    result = _install("--root", str(tmp_path), *args)
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
def test_real_install_into_a_temporary_root(tmp_path: Path) -> None:
    result = _install(
        "--root",
        str(tmp_path),
        "--server",
        "127.0.0.1:50051",
        "--token",
        "tok",
        "--no-tls",
        str(ROOT),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    venv = tmp_path / "opt" / "tidewatch-agent" / "venv"
    config = tmp_path / "etc" / "tidewatch" / "agent.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert (
        tmp_path / "etc" / "systemd" / "system" / "tidewatch-agent.service"
    ).read_text() == UNIT.read_text()
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
    # Idempotent: a second run keeps the config and succeeds.
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    again = _install("--root", str(tmp_path), str(ROOT), timeout=600)
    assert again.returncode == 0, again.stderr
    assert "exists: kept" in again.stdout
    assert config.read_text().endswith("# edited by the operator\n")
