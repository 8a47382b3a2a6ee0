"""Settings for ``tidewatch-alerts`` (prefix ``TIDEWATCH_ALERTS_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

from common.settings import SettingsError

__all__ = ["AlertsSettings", "load_alerts_settings"]


class AlertsSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How often rules are evaluated and how deliveries are retried."""

    evaluate_interval_s: float = 10.0
    # Grace for offline rules that set none.
    offline_grace_s: float = 60.0
    # A collector whose heartbeat is older than this is down.
    collector_stale_s: float = 15.0
    # How far back a threshold window may reach past its duration for its first sample,
    # and how old the newest sample may be: a few sampling intervals.
    sample_slack_s: float = 30.0
    # Windows longer than this read the 1-minute rollups instead of raw rows.
    raw_window_max_s: float = 3600.0
    # Newly offline VPSes making up at least this share of a rule's scope (and at least
    # two) become one fleet-outage incident.
    fleet_outage_fraction: float = 0.5
    send_poll_interval_s: float = 1.0
    send_timeout_s: float = 15.0
    max_attempts: int = 6
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0


def load_alerts_settings(environ: Mapping[str, str] | None = None) -> AlertsSettings:
    prefix = "TIDEWATCH_ALERTS_"
    env = os.environ if environ is None else environ
    raw = {key[len(prefix) :].lower(): value for key, value in env.items() if key.startswith(prefix)}
    try:
        return msgspec.convert(raw, AlertsSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid {prefix}* setting: {exc} (check your environment)") from exc
