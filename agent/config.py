"""Agent configuration: a TOML file plus ``TIDEWATCH_AGENT_*`` environment overrides.

Everything is validated into frozen dataclasses. Unknown keys and unknown
``TIDEWATCH_AGENT_*`` variables are errors, so a typo is never silently ignored.
All problems are reported together, each naming the key and what it expects.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from agent.config_reader import ConfigError, SectionReader, parse_address, parse_env_value

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "AgentSettings",
    "CommandSettings",
    "ConfigError",
    "FeatureSettings",
    "IntervalSettings",
    "ServerSettings",
    "SpoolSettings",
    "TlsSettings",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path("/etc/tidewatch/agent.toml")
DEFAULT_GENERIC_METRICS_DIRECTORY = Path("/etc/tidewatch/metrics.d")
ENV_PREFIX = "TIDEWATCH_AGENT_"
MIB = 1024 * 1024
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ServerSettings:
    """Where the collector is and how the agent proves who it is."""

    address: str
    token: str
    max_message_bytes: int = 16 * MIB


@dataclass(frozen=True)
class TlsSettings:
    """TLS for the agent link; ``enabled=False`` means plaintext (tests and labs only)."""

    enabled: bool = True
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str = ""


@dataclass(frozen=True)
class IntervalSettings:
    """Sampling and batching cadence; the server may change these live."""

    snapshot_interval_s: float = 1.0
    docker_interval_s: float = 5.0
    generic_interval_s: float = 10.0
    heartbeat_interval_s: float = 10.0
    batch_max_snapshots: int = 5
    batch_max_delay_s: float = 5.0


@dataclass(frozen=True)
class SpoolSettings:
    """Where unacknowledged batches wait, and how much of them may pile up."""

    directory: Path = Path("/var/lib/tidewatch-agent/spool")
    max_bytes: int = 64 * MIB
    memory_max_batches: int = 256
    commit_interval_ms: int = 200


@dataclass(frozen=True)
class FeatureSettings:
    """Local switches. The server can narrow them, never widen them."""

    docker: bool = True
    docker_control: bool = True
    shell: bool = True
    script: bool = True
    pty: bool = True
    files: bool = False


@dataclass(frozen=True)
class CommandSettings:
    """Limits for commands the server asks the agent to run."""

    max_concurrent: int = 4
    default_timeout_s: float = 300.0
    max_timeout_s: float = 3600.0
    default_output_limit_bytes: int = 1 * MIB
    max_output_limit_bytes: int = 16 * MIB


@dataclass(frozen=True)
class AgentSettings:
    """The whole validated agent configuration."""

    server: ServerSettings
    tls: TlsSettings = TlsSettings()
    intervals: IntervalSettings = IntervalSettings()
    spool: SpoolSettings = SpoolSettings()
    features: FeatureSettings = FeatureSettings()
    commands: CommandSettings = CommandSettings()
    mount_include: tuple[str, ...] = ()
    mount_exclude: tuple[str, ...] = ()
    generic_metrics_directory: Path | None = DEFAULT_GENERIC_METRICS_DIRECTORY
    docker_base_url: str | None = None
    docker_cgroup_root: Path = Path("/sys/fs/cgroup")
    log_level: str = "info"
    source: str = "<defaults>"


# Environment shortcuts; every other key is reachable as TIDEWATCH_AGENT_<SECTION>_<KEY>.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "SERVER": ("server", "address"),
    "TOKEN": ("server", "token"),
    "TOKEN_FILE": ("server", "token_file"),
    "TLS": ("tls", "enabled"),
}
# Variables that are read elsewhere, not config keys.
ENV_NOT_KEYS = frozenset({"CONFIG"})

# Top-level keys that are not sections.
TOP_LEVEL_KEYS: dict[str, type] = {"log_level": str}

# Field types come from the dataclasses; their annotations are strings here
# (postponed evaluation), hence the comparison with "float".
SECTION_KEYS: dict[str, dict[str, type]] = {
    "server": {"address": str, "token": str, "token_file": str, "max_message_bytes": int},
    "tls": {"enabled": bool, "ca_file": str, "cert_file": str, "key_file": str, "server_name": str},
    "intervals": {f.name: float if f.type == "float" else int for f in fields(IntervalSettings)},
    "spool": {"directory": str, "max_bytes": int, "memory_max_batches": int, "commit_interval_ms": int},
    "features": {f.name: bool for f in fields(FeatureSettings)},
    "commands": {f.name: float if f.type == "float" else int for f in fields(CommandSettings)},
    "mounts": {"include": list, "exclude": list},
    "docker": {"base_url": str, "cgroup_root": str},
    "generic_metrics": {"directory": str},
}


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``section.key``."""
    for alias, target in ENV_ALIASES.items():
        if target == (section, key):
            return ENV_PREFIX + alias
    return ENV_PREFIX + (f"{section}_{key}" if section else key).upper()


def _env_index() -> dict[str, tuple[str, str, type]]:
    index: dict[str, tuple[str, str, type]] = {}
    for key, kind in TOP_LEVEL_KEYS.items():
        index[env_name("", key)] = ("", key, kind)
    for section, keys in SECTION_KEYS.items():
        for key, kind in keys.items():
            index[env_name(section, key)] = (section, key, kind)
    return index


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str], errors: list[str]) -> None:
    index = _env_index()
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX) :] in ENV_NOT_KEYS:
            continue
        target = index.get(name)
        if target is None:
            errors.append(f"{name}: unknown environment variable (see docs/agent.md)")
            continue
        section, key, kind = target
        try:
            parsed = parse_env_value(value, kind)
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
            continue
        if not section:
            raw[key] = parsed
            continue
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            errors.append(f"[{section}]: expected a table")
            continue
        table[key] = parsed
        # An environment token replaces whatever token source the file chose.
        if (section, key) == ("server", "token"):
            table.pop("token_file", None)
        elif (section, key) == ("server", "token_file"):
            table.pop("token", None)


def _read_token(reader: SectionReader) -> str:
    token = reader.string("token", "")
    token_file = reader.string("token_file", "")
    if token and token_file:
        reader.error("token", "set only one of server.token and server.token_file")
        return token
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            reader.error("token_file", f"cannot read {token_file}: {exc.strerror or exc}")
            return ""
        if not token:
            reader.error("token_file", f"{token_file} is empty")
    return token


def _build(raw: dict[str, Any], errors: list[str], *, need_collector: bool = True) -> AgentSettings:
    top = SectionReader("", raw, errors, allowed=set(TOP_LEVEL_KEYS) | set(SECTION_KEYS))
    log_level = top.choice("log_level", "info", LOG_LEVELS)

    srv = top.section("server", SECTION_KEYS["server"])
    # Without a collector (--once), address and token may be absent; a given address is checked.
    address = parse_address(srv, "address") if need_collector or srv.string("address", "") else ""
    token = _read_token(srv)
    if need_collector and not token and not srv.has_error("token", "token_file"):
        srv.error("token", f"required: set server.token, server.token_file or {ENV_PREFIX}TOKEN")
    server = ServerSettings(
        address=address,
        token=token,
        max_message_bytes=srv.integer("max_message_bytes", 16 * MIB, minimum=64 * 1024),
    )

    tls_r = top.section("tls", SECTION_KEYS["tls"])
    cert_file = tls_r.path("cert_file", must_exist=True)
    key_file = tls_r.path("key_file", must_exist=True)
    if (cert_file is None) != (key_file is None):
        tls_r.error("cert_file", "mTLS needs both tls.cert_file and tls.key_file")
    tls = TlsSettings(
        enabled=tls_r.boolean("enabled", True),
        ca_file=tls_r.path("ca_file", must_exist=True),
        cert_file=cert_file,
        key_file=key_file,
        server_name=tls_r.string("server_name", ""),
    )

    iv = top.section("intervals", SECTION_KEYS["intervals"])
    d_iv = IntervalSettings()
    intervals = IntervalSettings(
        snapshot_interval_s=iv.number("snapshot_interval_s", d_iv.snapshot_interval_s, minimum=0.1),
        docker_interval_s=iv.number("docker_interval_s", d_iv.docker_interval_s, minimum=0.5),
        generic_interval_s=iv.number("generic_interval_s", d_iv.generic_interval_s, minimum=0.5),
        heartbeat_interval_s=iv.number("heartbeat_interval_s", d_iv.heartbeat_interval_s, minimum=1.0),
        batch_max_snapshots=iv.integer(
            "batch_max_snapshots", d_iv.batch_max_snapshots, minimum=1, maximum=10_000
        ),
        batch_max_delay_s=iv.number("batch_max_delay_s", d_iv.batch_max_delay_s, minimum=0.1),
    )

    sp = top.section("spool", SECTION_KEYS["spool"])
    d_sp = SpoolSettings()
    spool = SpoolSettings(
        directory=sp.path("directory") or d_sp.directory,
        max_bytes=sp.integer("max_bytes", d_sp.max_bytes, minimum=MIB),
        memory_max_batches=sp.integer(
            "memory_max_batches", d_sp.memory_max_batches, minimum=1, maximum=100_000
        ),
        commit_interval_ms=sp.integer(
            "commit_interval_ms", d_sp.commit_interval_ms, minimum=0, maximum=10_000
        ),
    )

    ft = top.section("features", SECTION_KEYS["features"])
    d_ft = FeatureSettings()
    features = FeatureSettings(
        **{f.name: ft.boolean(f.name, getattr(d_ft, f.name)) for f in fields(FeatureSettings)}
    )

    cm = top.section("commands", SECTION_KEYS["commands"])
    d_cm = CommandSettings()
    commands = CommandSettings(
        max_concurrent=cm.integer("max_concurrent", d_cm.max_concurrent, minimum=1, maximum=256),
        default_timeout_s=cm.number("default_timeout_s", d_cm.default_timeout_s, minimum=1.0),
        max_timeout_s=cm.number("max_timeout_s", d_cm.max_timeout_s, minimum=1.0),
        default_output_limit_bytes=cm.integer(
            "default_output_limit_bytes", d_cm.default_output_limit_bytes, minimum=1024
        ),
        max_output_limit_bytes=cm.integer(
            "max_output_limit_bytes", d_cm.max_output_limit_bytes, minimum=1024
        ),
    )

    mounts = top.section("mounts", SECTION_KEYS["mounts"])
    docker = top.section("docker", SECTION_KEYS["docker"])
    generic = top.section("generic_metrics", SECTION_KEYS["generic_metrics"])
    generic_directory = generic.string("directory", str(DEFAULT_GENERIC_METRICS_DIRECTORY))
    return AgentSettings(
        server=server,
        tls=tls,
        intervals=intervals,
        spool=spool,
        features=features,
        commands=commands,
        mount_include=mounts.string_list("include"),
        mount_exclude=mounts.string_list("exclude"),
        generic_metrics_directory=Path(generic_directory) if generic_directory else None,
        docker_base_url=docker.string("base_url", "") or None,
        docker_cgroup_root=Path(docker.string("cgroup_root", "") or "/sys/fs/cgroup"),
        log_level=log_level,
    )


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    need_collector: bool = True,
) -> AgentSettings:
    """Read, merge and validate the configuration.

    ``path`` defaults to ``$TIDEWATCH_AGENT_CONFIG`` or ``/etc/tidewatch/agent.toml``.
    A missing default file is fine (environment only); a missing explicit file is not.
    ``need_collector=False`` (for ``--once``) lets the server address and token be absent.
    Raises :class:`ConfigError` listing every problem found.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get(ENV_PREFIX + "CONFIG"))
    config_path = path or Path(env.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG_PATH)
    raw: dict[str, Any] = {}
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        source = str(config_path)
    except FileNotFoundError:
        if explicit:
            raise ConfigError([f"{config_path}: file not found"]) from None
        source = "<environment>"
    except OSError as exc:
        raise ConfigError([f"{config_path}: cannot read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{config_path}: not valid TOML: {exc}"]) from None

    errors: list[str] = []
    _apply_env(raw, env, errors)
    settings = _build(raw, errors, need_collector=need_collector)
    if errors:
        raise ConfigError(errors, source=source)
    return AgentSettings(**{**settings.__dict__, "source": source})
