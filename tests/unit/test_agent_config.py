"""Agent config: TOML + environment, strict validation with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import config as agent_config
from agent.config import ConfigError, load_config

MINIMAL = 'log_level = "info"\n[server]\naddress = "collector.example.com:50051"\ntoken = "t0k"\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), environ=env or {})
    return info.value.problems


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    settings = load_config(_write(tmp_path, MINIMAL), environ={})
    assert settings.server.address == "collector.example.com:50051"
    assert settings.server.token == "t0k"
    assert settings.tls.enabled is True
    assert settings.intervals.snapshot_interval_s == 1.0
    assert settings.intervals.docker_interval_s == 5.0
    assert settings.intervals.heartbeat_interval_s == 10.0
    assert settings.intervals.batch_max_snapshots == 5
    assert settings.intervals.batch_max_delay_s == 5.0
    assert settings.spool.directory == Path("/var/lib/tidewatch-agent/spool")
    assert settings.spool.max_bytes == 64 * 1024 * 1024
    assert settings.spool.commit_interval_ms == 200
    assert settings.features.files is False
    assert settings.features.shell is True
    assert settings.generic_metrics_directory == Path("/etc/tidewatch/metrics.d")
    off = load_config(_write(tmp_path, MINIMAL + '[generic_metrics]\ndirectory = ""\n'), environ={})
    assert off.generic_metrics_directory is None


def test_full_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    text = (
        MINIMAL
        + f"""
[tls]
ca_file = "{ca}"
server_name = "collector.internal"
[intervals]
snapshot_interval_s = 2
batch_max_snapshots = 10
[spool]
directory = "{tmp_path}/spool"
max_bytes = 2097152
memory_max_batches = 8
commit_interval_ms = 0
[features]
shell = false
[mounts]
include = ["/", "/data"]
exclude = ["/boot"]
[docker]
base_url = "unix:///run/docker.sock"
cgroup_root = "/host/sys/fs/cgroup"
[generic_metrics]
directory = "/var/lib/tidewatch-agent/metrics.d"
"""
    )
    settings = load_config(_write(tmp_path, text), environ={})
    assert settings.tls.ca_file == ca
    assert settings.intervals.snapshot_interval_s == 2.0
    assert settings.intervals.batch_max_snapshots == 10
    assert settings.spool.memory_max_batches == 8
    assert settings.spool.commit_interval_ms == 0  # fsync every write
    assert settings.features.shell is False
    assert settings.mount_include == ("/", "/data")
    assert settings.mount_exclude == ("/boot",)
    assert settings.docker_base_url == "unix:///run/docker.sock"
    assert settings.docker_cgroup_root == Path("/host/sys/fs/cgroup")
    assert settings.generic_metrics_directory == Path("/var/lib/tidewatch-agent/metrics.d")


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    problems = _problems(tmp_path, MINIMAL + "[intervals]\nsnapshot_intervl_s = 2\n")
    assert len(problems) == 1
    assert problems[0].startswith("intervals.snapshot_intervl_s: unknown key")
    assert "snapshot_interval_s" in problems[0]  # lists the known keys


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    problems = _problems(tmp_path, MINIMAL + "[feature]\nshell = false\n")
    assert problems == [problems[0]]
    assert problems[0].startswith("feature: unknown key")


def test_wrong_types_and_ranges_are_all_reported(tmp_path: Path) -> None:
    text = MINIMAL + '[intervals]\nsnapshot_interval_s = "fast"\nbatch_max_snapshots = 0\n'
    text += "[features]\nshell = 1\n[spool]\nmax_bytes = true\n"
    problems = _problems(tmp_path, text)
    assert any(p.startswith("intervals.snapshot_interval_s: expected a number") for p in problems)
    assert any(p.startswith("intervals.batch_max_snapshots: expected an integer in") for p in problems)
    assert any(p.startswith("features.shell: expected true or false") for p in problems)
    # bool is an int in Python; it must not pass as a byte count.
    assert any(p.startswith("spool.max_bytes: expected an integer") for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize(
    "address", ["collector", "collector:0", "collector:99999", "bad host:1", ":50051", "[::1]"]
)
def test_bad_address(tmp_path: Path, address: str) -> None:
    problems = _problems(tmp_path, f'[server]\naddress = "{address}"\ntoken = "t"\n')
    assert len(problems) == 1
    assert problems[0].startswith("server.address: expected host:port")


@pytest.mark.parametrize("address", ["10.0.0.1:50051", "[2001:db8::1]:443", "c.example.com:1"])
def test_good_address(tmp_path: Path, address: str) -> None:
    settings = load_config(_write(tmp_path, f'[server]\naddress = "{address}"\ntoken = "t"\n'), environ={})
    assert settings.server.address == address


def test_missing_token_and_address(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "")
    assert [p.split(":")[0] for p in problems] == ["server.address", "server.token"]


def test_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  from-file\n")
    text = f'[server]\naddress = "c:1"\ntoken_file = "{token_file}"\n'
    assert load_config(_write(tmp_path, text), environ={}).server.token == "from-file"


def test_token_and_token_file_together_is_an_error(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("x")
    problems = _problems(
        tmp_path, MINIMAL.replace('token = "t0k"', f'token = "a"\ntoken_file = "{token_file}"')
    )
    assert problems == ["server.token: set only one of server.token and server.token_file"]


def test_missing_token_file(tmp_path: Path) -> None:
    text = f'[server]\naddress = "c:1"\ntoken_file = "{tmp_path}/nope"\n'
    problems = _problems(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith("server.token_file: cannot read")


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {
        "TIDEWATCH_AGENT_SERVER": "other.example.com:443",
        "TIDEWATCH_AGENT_TOKEN": "env-token",
        "TIDEWATCH_AGENT_TLS": "false",
        "TIDEWATCH_AGENT_INTERVALS_DOCKER_INTERVAL_S": "7.5",
        "TIDEWATCH_AGENT_FEATURES_SHELL": "off",
        "TIDEWATCH_AGENT_MOUNTS_EXCLUDE": "/boot, /snap",
        "TIDEWATCH_AGENT_SPOOL_DIRECTORY": str(tmp_path / "s"),
        "TIDEWATCH_AGENT_LOG_LEVEL": "debug",
    }
    settings = load_config(_write(tmp_path, MINIMAL), environ=env)
    assert settings.server.address == "other.example.com:443"
    assert settings.server.token == "env-token"
    assert settings.tls.enabled is False
    assert settings.intervals.docker_interval_s == 7.5
    assert settings.features.shell is False
    assert settings.mount_exclude == ("/boot", "/snap")
    assert settings.spool.directory == tmp_path / "s"
    assert settings.log_level == "debug"


def test_env_token_file_replaces_file_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("ff")
    env = {"TIDEWATCH_AGENT_TOKEN_FILE": str(token_file)}
    assert load_config(_write(tmp_path, MINIMAL), environ=env).server.token == "ff"


def test_unknown_or_bad_environment_variables(tmp_path: Path) -> None:
    env = {"TIDEWATCH_AGENT_TOKN": "x", "TIDEWATCH_AGENT_FEATURES_PTY": "maybe"}
    problems = _problems(tmp_path, MINIMAL, env)
    assert problems == [
        "TIDEWATCH_AGENT_FEATURES_PTY: expected true or false, got 'maybe'",
        "TIDEWATCH_AGENT_TOKN: unknown environment variable (see docs/agent.md)",
    ]


def test_environment_only_when_default_file_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "TIDEWATCH_AGENT_CONFIG": "",
        "TIDEWATCH_AGENT_SERVER": "c:1",
        "TIDEWATCH_AGENT_TOKEN": "t",
    }
    # An absent default file (whatever this machine has installed): the environment suffices.
    monkeypatch.setattr(agent_config, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    assert load_config(environ=env).source == "<environment>"


def test_explicit_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[server\n"), environ={})
