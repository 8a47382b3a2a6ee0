"""Checks the body types cannot express; each failure names its field (problem type unmet-rule)."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from api.errors import unmet_rule
from common.alert_metrics import CONTAINER_STATE_METRICS, GENERIC_PREFIX, is_known_metric, item_label_key
from common.api_models.alerts import ChannelIn, RuleIn, SilenceIn

__all__ = ["check_channel", "check_rule", "check_silence", "check_timezone"]

_SECRET_KEYS = {
    "email": {"password"},
    "webhook": {"hmac_key"},
    "telegram": {"bot_token"},
    "discord": {"url"},
    "slack": {"url"},
}
_CONFIG_KEYS = {
    "email": {"host", "port", "security", "username", "from", "to", "ca_file"},
    "webhook": {"url"},
    "telegram": {"chat_id", "api_base"},
    "discord": set(),
    "slack": set(),
}
_TEMPLATES = {"title_template", "body_template"}


def check_timezone(value: str, field: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise unmet_rule(
            field, f"{value!r} is not an IANA timezone such as 'Europe/Berlin'", "body"
        ) from None


def check_rule(rule: RuleIn) -> None:
    if rule.kind == "threshold":
        if not is_known_metric(rule.metric):
            raise unmet_rule(
                "metric",
                f"unknown metric {rule.metric!r}; see docs/alerts.md for the list, or use generic:<name>",
                "body",
            )
        if rule.threshold is None and rule.metric not in CONTAINER_STATE_METRICS:
            raise unmet_rule("threshold", "a threshold rule needs a threshold", "body")
        allowed = {item_label_key(rule.metric)} - {""}
        if not rule.metric.startswith(GENERIC_PREFIX):
            for key in rule.metric_labels:
                if key not in allowed:
                    raise unmet_rule(
                        f"metric_labels.{key}",
                        f"{rule.metric} is narrowed by {sorted(allowed) or 'nothing'}, not {key!r}",
                        "body",
                    )
    elif rule.metric:
        raise unmet_rule("metric", f"{rule.kind} rules take no metric", "body")


def _check_url(value: object, field: str) -> None:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise unmet_rule(field, "must be an http:// or https:// URL", "body")


def check_channel(channel: ChannelIn, secret_keys: set[str]) -> None:
    """``secret_keys``: the keys the channel will hold (given now or kept)."""
    allowed = _CONFIG_KEYS[channel.kind] | _TEMPLATES
    for key, value in channel.config.items():
        if key not in allowed:
            raise unmet_rule(f"config.{key}", f"{channel.kind} channels take {sorted(allowed)}", "body")
        if key in _TEMPLATES and (not isinstance(value, str) or len(value) > 2000):
            raise unmet_rule(f"config.{key}", "a template is a string of at most 2000 characters", "body")
    if isinstance(channel.secret, dict):
        for key in channel.secret:
            if key not in _SECRET_KEYS[channel.kind]:
                expected = sorted(_SECRET_KEYS[channel.kind])
                raise unmet_rule(f"secret.{key}", f"{channel.kind} secrets are {expected}", "body")
    config = channel.config
    if channel.kind == "email":
        for key in ("host", "from"):
            if not isinstance(config.get(key), str) or not config[key]:
                raise unmet_rule(f"config.{key}", "required", "body")
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
            raise unmet_rule("config.to", "a non-empty list of addresses", "body")
        port = config.get("port", 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise unmet_rule("config.port", "a TCP port, 1-65535", "body")
        if config.get("security", "starttls") not in ("starttls", "tls", "none"):
            raise unmet_rule("config.security", "one of starttls, tls, none", "body")
    elif channel.kind == "webhook":
        _check_url(config.get("url", ""), "config.url")
    elif channel.kind == "telegram":
        if not str(config.get("chat_id", "")):
            raise unmet_rule("config.chat_id", "required", "body")
        if "api_base" in config:
            _check_url(config["api_base"], "config.api_base")
        if "bot_token" not in secret_keys:
            raise unmet_rule("secret.bot_token", "required", "body")
    elif "url" not in secret_keys:
        raise unmet_rule("secret.url", f"the {channel.kind} webhook URL is required", "body")
    if channel.kind in ("discord", "slack") and isinstance(channel.secret, dict) and "url" in channel.secret:
        _check_url(channel.secret["url"], "secret.url")


def check_silence(silence: SilenceIn) -> None:
    check_timezone(silence.timezone, "timezone")
    if silence.cron is not None:
        if not croniter.is_valid(silence.cron):
            raise unmet_rule("cron", f"{silence.cron!r} is not a cron expression (5 fields)", "body")
        if silence.duration_s is None:
            raise unmet_rule("duration_s", "a recurring silence needs a duration", "body")
        return
    if silence.starts_at is None:
        raise unmet_rule("starts_at", "a one-off silence needs starts_at and ends_at (or give cron)", "body")
    if silence.ends_at is None or silence.ends_at <= silence.starts_at:
        raise unmet_rule("ends_at", "must be after starts_at", "body")
    if silence.starts_at.tzinfo is None or silence.ends_at.tzinfo is None:
        raise unmet_rule("starts_at", "give a timezone offset, e.g. 2026-05-01T02:00:00Z", "body")
