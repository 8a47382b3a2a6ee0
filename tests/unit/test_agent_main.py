"""The tidewatch-agent entry point as a real process: modes, signals, and what it imports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.runtime.spool_log import SegmentLog

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("pandas", "dash", "psycopg", "litestar", "msgspec", "collector", "api", "dashboards")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.main", *args],
        cwd=ROOT,
        env={**_clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TIDEWATCH_AGENT_")}


def _config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f"""
log_level = "debug"
[server]
address = "127.0.0.1:{port}"
token = "test-token"
[tls]
enabled = false
[intervals]
snapshot_interval_s = 0.2
batch_max_snapshots = 2
[spool]
directory = "{tmp_path / "spool"}"
[features]
docker = false
{extra}
"""
    )
    return path


def test_the_agent_never_imports_server_libraries() -> None:
    code = (
        "import sys, agent.main, agent.runtime.agent, agent.commands.executor;"
        "from agent.main import build_runtime;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_config_ok_and_errors(tmp_path: Path) -> None:
    ok = _agent("--check-config", "--config", str(_config(tmp_path, 50051)))
    assert ok.returncode == 0, ok.stderr
    assert "config OK" in ok.stdout and "test-token" not in ok.stdout
    bad = _agent("--check-config", "--config", str(_config(tmp_path, 50051, "[mounts]\nexclud = []")))
    assert bad.returncode == 2
    assert "mounts.exclud: unknown key" in bad.stderr
    env_bad = _agent(
        "--check-config",
        "--config",
        str(_config(tmp_path, 50051)),
        env={"TIDEWATCH_AGENT_SEVER": "x:1"},
    )
    assert env_bad.returncode == 2 and "TIDEWATCH_AGENT_SEVER" in env_bad.stderr


def test_once_prints_json_and_exits_zero() -> None:
    result = _agent("--once", "--no-docker")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)


def test_once_shows_custom_metrics_from_the_configured_directory(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.d"
    metrics.mkdir()
    (metrics / "app.prom").write_text('app_queue_depth{queue="mail"} 12\n')
    # No collector needed: a config with only the metrics directory (and Docker off) is enough.
    config = tmp_path / "agent.toml"
    config.write_text(f'[generic_metrics]\ndirectory = "{metrics}"\n[features]\ndocker = false\n')
    from_file = _agent("--once", "--config", str(config))
    from_env = _agent(
        "--once", "--no-docker", env={"TIDEWATCH_AGENT_GENERIC_METRICS_DIRECTORY": str(metrics)}
    )
    for result in (from_file, from_env):
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert "docker" not in report
        [metric] = report["generic_metrics"]
        assert (metric["name"], metric["value"], metric["labels"]) == (
            "app_queue_depth",
            12.0,
            {"queue": "mail"},
        )


def test_once_says_when_the_metrics_directory_is_missing_and_refuses_a_bad_config(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = _agent("--once", "--no-docker", env={"TIDEWATCH_AGENT_GENERIC_METRICS_DIRECTORY": str(missing)})
    assert result.returncode == 0, result.stderr
    assert "generic_metrics" not in json.loads(result.stdout)
    assert f"no custom metrics: {missing} does not exist" in result.stderr
    bad = _agent("--once", "--no-docker", env={"TIDEWATCH_AGENT_SERVER": "no-port"})
    assert bad.returncode == 2 and "server.address: expected host:port" in bad.stderr


def test_sigterm_without_a_collector_spools_everything_and_exits_zero(tmp_path: Path) -> None:
    config = _config(tmp_path, _free_port())  # nothing listens: the agent keeps retrying
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.main", "--config", str(config)],
        cwd=ROOT,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3.0)
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "agent stopped" in stderr
    spool = tmp_path / "spool"
    assert (spool / "sequence-state.json").exists()
    log = SegmentLog(spool, max_bytes=1 << 20, commit_interval_s=0)
    batches = [sequence for sequence, _ in log.recovered.batches]
    assert len(batches) >= 3  # sampled while disconnected, kept for the next start
    assert log.recovered.held_snapshots == []  # the batch in progress was flushed at stop
    state = json.loads((spool / "sequence-state.json").read_text())
    assert state["next_sequence"] == batches[-1] + 1


def test_unwritable_spool_is_a_clear_startup_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        spool = blocker / "spool"
    else:
        spool = Path("/proc/tidewatch-spool")
    config = _config(tmp_path, 50051).read_text().replace(str(tmp_path / "spool"), str(spool))
    path = tmp_path / "bad.toml"
    path.write_text(config)
    result = _agent("--config", str(path))
    assert result.returncode == 1
    assert "cannot start" in result.stderr


@pytest.mark.parametrize("args", [["--once", "--check-config"], ["--bogus"]])
def test_bad_arguments(args: list[str]) -> None:
    assert _agent(*args).returncode == 2
