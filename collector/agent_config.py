"""What a collector sends an agent as its config: fleet defaults, then the VPS's
overrides, then watch mode; features never beyond what the agent allows."""

from __future__ import annotations

from typing import Any

from common.settings import CollectorSettings
from proto import agent_pb2

__all__ = ["WATCH_BATCH_MAX_DELAY_MS", "WATCH_BATCH_MAX_SNAPSHOTS", "effective_config"]

_FEATURES = ("docker", "shell", "script", "pty", "files", "docker_control")
_CONFIG_KEYS = (
    "snapshot_interval_ms",
    "docker_interval_ms",
    "generic_interval_ms",
    "heartbeat_interval_ms",
    "batch_max_snapshots",
    "batch_max_delay_ms",
)


# Watch mode (api.live.watch): a VPS someone views live sends each snapshot at once.
WATCH_BATCH_MAX_SNAPSHOTS = 1
WATCH_BATCH_MAX_DELAY_MS = 100  # the agent's floor; with batches of one it never waits


def effective_config(
    settings: CollectorSettings,
    overrides: dict[str, Any],
    local: agent_pb2.FeatureSwitches,
    watched: bool = False,
) -> agent_pb2.AgentConfig:
    """Fleet defaults, then per-VPS overrides, then watch mode; features never exceed what
    the agent allows."""
    config = agent_pb2.AgentConfig(
        snapshot_interval_ms=settings.snapshot_interval_ms,
        docker_interval_ms=settings.docker_interval_ms,
        generic_interval_ms=settings.generic_interval_ms,
        heartbeat_interval_ms=settings.agent_heartbeat_interval_ms,
        batch_max_snapshots=settings.batch_max_snapshots,
        batch_max_delay_ms=settings.batch_max_delay_ms,
    )
    for key in _CONFIG_KEYS:
        value = overrides.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32:
            setattr(config, key, value)
    wanted = overrides.get("features") or {}
    for name in _FEATURES:
        allowed = bool(getattr(local, name)) and wanted.get(name, True) is not False
        setattr(config.features, name, allowed)
    if watched:
        config.batch_max_snapshots = WATCH_BATCH_MAX_SNAPSHOTS
        config.batch_max_delay_ms = WATCH_BATCH_MAX_DELAY_MS
    return config
