"""Intervals and feature switches that the server may change while the agent runs."""

from __future__ import annotations

import dataclasses
import logging

from agent.config import FeatureSettings, IntervalSettings
from common.change_signal import ChangeSignal
from proto import agent_pb2

__all__ = ["LiveSettings", "features_to_proto"]

log = logging.getLogger(__name__)

# Floors for server-sent values, so a bad config cannot make the agent spin.
_MIN_INTERVAL_S = {
    "snapshot_interval_s": 0.1,
    "docker_interval_s": 0.5,
    "generic_interval_s": 1.0,
    "heartbeat_interval_s": 1.0,
    "batch_max_delay_s": 0.1,
}
# AgentConfig field (milliseconds) -> IntervalSettings field (seconds).
_MS_FIELDS = {
    "snapshot_interval_ms": "snapshot_interval_s",
    "docker_interval_ms": "docker_interval_s",
    "generic_interval_ms": "generic_interval_s",
    "heartbeat_interval_ms": "heartbeat_interval_s",
    "batch_max_delay_ms": "batch_max_delay_s",
}


def features_to_proto(features: FeatureSettings) -> agent_pb2.FeatureSwitches:
    """The wire form of a feature set."""
    return agent_pb2.FeatureSwitches(**dataclasses.asdict(features))


class LiveSettings:
    """The effective intervals and features, plus a way to wait for changes.

    Features are the local switches AND the server's latest switches: the server
    can narrow what the agent allows, never widen it.
    """

    def __init__(self, intervals: IntervalSettings, local_features: FeatureSettings) -> None:
        self.intervals = intervals
        self.local_intervals = intervals
        self.local_features = local_features
        self.features = local_features
        self._changed = ChangeSignal()

    def apply(self, config: agent_pb2.AgentConfig) -> list[str]:
        """Apply a server AgentConfig; a zero or absent value means this agent's own setting.

        The server always sends its whole config, so a value it no longer sets (a
        per-VPS override removed, watch mode over) goes back to the local one.
        Returns a description of each change, for the log.
        """
        local = self.local_intervals
        changes: dict[str, object] = {}
        for ms_field, s_field in _MS_FIELDS.items():
            value_ms = getattr(config, ms_field)
            changes[s_field] = (
                max(value_ms / 1000.0, _MIN_INTERVAL_S[s_field]) if value_ms else getattr(local, s_field)
            )
        changes["batch_max_snapshots"] = (
            min(int(config.batch_max_snapshots), 10_000)
            if config.batch_max_snapshots
            else local.batch_max_snapshots
        )
        described = [
            f"{name}={value}" for name, value in changes.items() if getattr(self.intervals, name) != value
        ]
        self.intervals = dataclasses.replace(self.intervals, **changes)  # type: ignore[arg-type]

        if config.HasField("features"):
            wanted = config.features
            narrowed = FeatureSettings(
                **{
                    f.name: getattr(self.local_features, f.name) and getattr(wanted, f.name)
                    for f in dataclasses.fields(FeatureSettings)
                }
            )
            for f in dataclasses.fields(FeatureSettings):
                if getattr(narrowed, f.name) != getattr(self.features, f.name):
                    described.append(f"features.{f.name}={getattr(narrowed, f.name)}")
                if getattr(wanted, f.name) and not getattr(self.local_features, f.name):
                    log.info("server asked for feature %s, which is disabled locally", f.name)
            self.features = narrowed

        if described:
            log.info("applied server config: %s", ", ".join(described))
            self._notify()
        return described

    def _notify(self) -> None:
        self._changed.notify_all()

    async def wait_changed(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s``; True if the settings changed meanwhile."""
        return await self._changed.wait(timeout_s)
