"""scripts/local-db.sh is honest about its preconditions, and a given DSN always wins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from common.settings import SettingsError, resolve_dsn
from tests.prerequisites import require_program, require_root

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-db.sh"


def test_a_given_dsn_wins_and_nothing_is_provisioned(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TIDEWATCH_DSN": "postgresql://u:p@db.example:5432/tw",
        "TIDEWATCH_CACHE": str(tmp_path),
    }
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "postgresql://u:p@db.example:5432/tw"
    assert "provisioning nothing" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_not_root_gets_a_clear_message_pointing_elsewhere(tmp_path: Path) -> None:
    require_root("to drop privileges for the check")
    require_program("setpriv")
    env = {k: v for k, v in os.environ.items() if k != "TIDEWATCH_DSN"}
    env["TIDEWATCH_CACHE"] = str(tmp_path)
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    assert "needs root" in result.stderr
    assert "TIDEWATCH_DSN" in result.stderr and "docker compose" in result.stderr


def test_resolve_dsn_prefers_the_environment(tmp_path: Path) -> None:
    assert resolve_dsn({"TIDEWATCH_DSN": " postgresql://x/y "}) == "postgresql://x/y"


def test_resolve_dsn_without_any_database_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("common.settings.LOCAL_DSN_FILE", tmp_path / "missing.dsn")
    with pytest.raises(SettingsError, match=r"TIDEWATCH_DSN=.*scripts/local-db\.sh"):
        resolve_dsn({})
