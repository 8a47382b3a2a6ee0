"""scripts/local-db.sh is honest about its preconditions, and a given DSN always wins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from common.settings import SettingsError, resolve_dsn
from tests.prerequisites import missing, require_program, require_root

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


REPO = SCRIPT.parents[1]
PATCH = REPO / "packaging" / "timescaledb" / "pg17.12-portal-drop.patch"


def _without_dsns() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("TIDEWATCH_DSN", "TIDEWATCH_TIMESCALE_DSN")}


def test_a_given_community_dsn_wins(tmp_path: Path) -> None:
    env = {
        **_without_dsns(),
        "TIDEWATCH_TIMESCALE_DSN": "postgresql://u:p@tsl.example/tw",
        "TIDEWATCH_CACHE": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "--edition", "timescale"], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "postgresql://u:p@tsl.example/tw"
    assert "TIDEWATCH_TIMESCALE_DSN is set" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_the_source_the_community_edition_says_so_and_points_to_apache(tmp_path: Path) -> None:
    env = {
        **_without_dsns(),
        "TIDEWATCH_CACHE": str(tmp_path),
        "TIDEWATCH_TIMESCALEDB_SOURCE": str(tmp_path / "missing.tar.gz"),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "--edition=timescale"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 3 and result.stdout == ""
    assert str(tmp_path / "missing.tar.gz") in result.stderr
    assert "TIDEWATCH_TIMESCALEDB_SOURCE" in result.stderr and "Apache edition" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_edition_is_refused(tmp_path: Path) -> None:
    env = {**_without_dsns(), "TIDEWATCH_CACHE": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT), "--edition", "oracle"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "unknown edition" in result.stderr


def _vendor_source() -> Path:
    given = os.environ.get("TIDEWATCH_TIMESCALEDB_SOURCE")
    source = Path(given) if given else REPO.parent / "shared" / "vendor" / "timescaledb-2.19.3.tar.gz"
    if not source.is_file():
        message = f"no TimescaleDB source at {source} (set TIDEWATCH_TIMESCALEDB_SOURCE)"
        missing(message)
    return source


def test_the_portal_workaround_applies_to_the_vendored_source(tmp_path: Path) -> None:
    source = _vendor_source()
    subprocess.run(["tar", "-C", str(tmp_path), "-xzf", str(source), "tsl/src/bgw_policy/job.c"], check=True)
    subprocess.run(["patch", "-d", str(tmp_path), "-p1", "-i", str(PATCH)], check=True, capture_output=True)
    patched = (tmp_path / "tsl/src/bgw_policy/job.c").read_text()
    assert "\t\tportal->status = PORTAL_DONE;\n\t\tPortalDrop(portal, false);" in patched
