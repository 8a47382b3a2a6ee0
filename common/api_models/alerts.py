"""Alert rules, channels, silences, events and deliveries; billing facts and traffic.

Bodies the API reads forbid unknown fields. Channel secrets go in, never out:
:class:`ChannelOut` lists which secret keys are set, not their values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from common.api_models.text import TEXT_PATTERN

__all__ = [
    "AlertSummary",
    "BillingIn",
    "BillingOut",
    "ChannelIn",
    "ChannelOut",
    "DeliveryOut",
    "DiskForecast",
    "EventOut",
    "RuleIn",
    "RuleOut",
    "RuleParams",
    "SilenceIn",
    "SilenceOut",
    "TrafficCycle",
    "TrafficFleetOut",
    "TrafficQuotaIn",
    "TrafficQuotaOut",
    "TrafficVpsOut",
]

# No control, bidi-override or zero-width characters (the API's text rule).
Name = Annotated[str, Meta(min_length=1, max_length=128, pattern=TEXT_PATTERN, examples=["cpu-high"])]
Text = Annotated[str, Meta(max_length=1000, pattern=TEXT_PATTERN)]
Id = Annotated[int, Meta(ge=1, le=2**63 - 1)]
# With an offset (Z or ±hh:mm): a bare local time would mean the server's zone.
AwareDateTime = Annotated[datetime, Meta(tz=True)]
Seconds = Annotated[float, Meta(ge=0, le=366 * 86_400, description="seconds, 0 or more")]
LabelKey = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_./:-]{1,63}$")]
LabelValue = Annotated[str, Meta(max_length=256, pattern=TEXT_PATTERN)]
Labels = Annotated[dict[LabelKey, LabelValue], Meta(max_length=64)]
RuleKind = Literal["offline", "threshold", "traffic", "disk_full", "renewal"]
ChannelKind = Literal["email", "webhook", "telegram", "discord", "slack"]
Comparator = Literal[">", ">=", "<", "<="]


class RuleParams(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Kind-specific settings; absent ones take the evaluator's defaults."""

    grace_s: Annotated[float, Meta(ge=1, le=86_400)] | UnsetType = UNSET
    horizon_hours: Annotated[float, Meta(gt=0, le=24 * 365)] | UnsetType = UNSET
    lookback_hours: Annotated[float, Meta(gt=0, le=24 * 30)] | UnsetType = UNSET
    days_before: Annotated[int, Meta(ge=0, le=365)] | UnsetType = UNSET
    include_auto_renew: bool | UnsetType = UNSET


class RuleIn(Struct, forbid_unknown_fields=True):
    """``POST``/``PUT /api/alerts/rules``: the whole rule.

    Scope: ``scope_vps_id``, else ``scope_labels`` (all must match), else the whole
    fleet, resolved at every evaluation. Threshold rules need ``metric`` and
    ``threshold``; ``resolve_threshold``/``resolve_duration_s`` add hysteresis."""

    name: Name
    kind: RuleKind
    enabled: bool = True
    scope_vps_id: Id | None = None
    scope_labels: Labels = msgspec.field(default_factory=dict)
    metric: Annotated[str, Meta(max_length=210)] = ""
    metric_labels: Labels = msgspec.field(default_factory=dict)
    comparator: Comparator = ">"
    threshold: float | None = None
    duration_s: Seconds = 0.0
    resolve_threshold: float | None = None
    resolve_duration_s: Seconds | None = None
    repeat_every_s: Annotated[float, Meta(ge=60, le=30 * 86_400)] | None = None
    params: RuleParams = msgspec.field(default_factory=RuleParams)
    channel_ids: Annotated[list[Id], Meta(max_length=50)] = msgspec.field(default_factory=list)


class RuleOut(Struct):
    id: int
    name: str
    kind: str
    enabled: bool
    scope_vps_id: int | None
    scope_labels: dict[str, str]
    metric: str
    metric_labels: dict[str, str]
    comparator: str
    threshold: float | None
    duration_s: float
    resolve_threshold: float | None
    resolve_duration_s: float | None
    repeat_every_s: float | None
    params: dict[str, Any]
    channel_ids: list[int]
    created_at: datetime
    updated_at: datetime


class ChannelIn(Struct, forbid_unknown_fields=True):
    """``POST``/``PUT /api/alerts/channels``.

    config by kind: email {host, port, security: starttls|tls|none, username, from, to: [..]};
    webhook {url}; telegram {chat_id, api_base}; all may add title_template/body_template
    ($rule, $target, $state, $value, $peak, $summary, $started_at, $resolved_at).
    secret by kind: email {password}; webhook {hmac_key}; telegram {bot_token};
    discord/slack {url}. On PUT an absent ``secret`` keeps the stored one."""

    name: Name
    kind: ChannelKind
    config: Annotated[dict[str, Any], Meta(max_length=20)] = msgspec.field(default_factory=dict)
    secret: Annotated[dict[str, str], Meta(max_length=10)] | UnsetType = UNSET
    enabled: bool = True


class ChannelOut(Struct):
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    # Which secret keys are stored; their values are never returned.
    secret_keys: list[str]
    enabled: bool
    created_at: datetime


class DeliveryOut(Struct):
    id: int
    event_id: int | None
    channel_id: int
    transition: str
    status: str
    attempts: int
    attempt_log: list[dict[str, Any]]
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime


class EventOut(Struct):
    id: int
    rule_id: int
    rule_name: str
    kind: str
    vps_id: int | None
    target_key: str
    target_label: str
    started_at: datetime
    resolved_at: datetime | None
    value: float | None
    peak_value: float | None
    summary: str
    details: dict[str, Any]
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    deliveries: list[DeliveryOut] = msgspec.field(default_factory=list)


class AlertSummary(Struct):
    """What the header badge shows."""

    firing: int
    unacknowledged: int


class SilenceIn(Struct, forbid_unknown_fields=True):
    """One-off (``starts_at``/``ends_at``) or recurring (``cron`` + ``duration_s`` in ``timezone``)."""

    rule_id: Id | None = None
    vps_id: Id | None = None
    starts_at: AwareDateTime | None = None
    ends_at: AwareDateTime | None = None
    cron: Annotated[str, Meta(max_length=100)] | None = None
    duration_s: Annotated[float, Meta(gt=0, le=31 * 86_400)] | None = None
    timezone: Annotated[str, Meta(max_length=64)] = "UTC"
    comment: Annotated[str, Meta(max_length=500, pattern=TEXT_PATTERN)] = ""


class SilenceOut(Struct):
    id: int
    rule_id: int | None
    vps_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    cron: str | None
    duration_s: float | None
    timezone: str
    comment: str
    active: bool
    created_at: datetime


BillingCycle = Literal["monthly", "quarterly", "semiannual", "yearly", "biennial", "triennial", "once"]


class BillingIn(Struct, forbid_unknown_fields=True):
    provider: Annotated[str, Meta(max_length=128, pattern=TEXT_PATTERN)] = ""
    # numeric(14, 2) in vps_billing: the largest price it stores.
    price: Annotated[float, Meta(ge=0, le=999_999_999_999.99)] | None = None
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")] = "USD"
    cycle: BillingCycle = "monthly"
    expires_on: date | None = None
    auto_renew: bool = False
    notes: Text = ""


class BillingOut(Struct):
    vps_id: int
    provider: str
    price: float | None
    currency: str
    cycle: str
    expires_on: date | None
    auto_renew: bool
    notes: str
    # The price spread over a month (None without a price, or for 'once').
    monthly_cost: float | None
    days_left: int | None


class TrafficQuotaIn(Struct, forbid_unknown_fields=True):
    quota_bytes: Annotated[int, Meta(gt=0, le=2**63 - 1)] | None = None
    direction: Literal["in", "out", "max", "total"] = "total"
    reset_day: Annotated[int, Meta(ge=1, le=28)] = 1
    timezone: Annotated[str, Meta(max_length=64)] = "UTC"
    warn_percents: Annotated[list[Annotated[float, Meta(gt=0, le=1000)]], Meta(max_length=10)] = (
        msgspec.field(default_factory=lambda: [80.0, 100.0])
    )


class TrafficQuotaOut(Struct):
    vps_id: int
    quota_bytes: int | None
    direction: str
    reset_day: int
    timezone: str
    warn_percents: list[float]


class TrafficCycle(Struct):
    start: datetime
    end: datetime
    rx_bytes: int
    tx_bytes: int
    used_bytes: int


class TrafficVpsOut(Struct):
    vps_id: int
    name: str
    quota: TrafficQuotaOut
    current: TrafficCycle
    # Oldest first, the current cycle excluded.
    past: list[TrafficCycle]
    projected_bytes: int
    bytes_per_day: float
    exhausted_at: datetime | None
    used_percent: float | None


class TrafficFleetOut(Struct):
    vps: list[TrafficVpsOut]
    used_bytes: int
    projected_bytes: int


class DiskForecast(Struct):
    """A mount's robust trend (Theil-Sen over the last hours) and when it fills."""

    mountpoint: str
    total_bytes: int
    used_bytes: int
    # None when the trend is flat, falling or too short to judge.
    hours_until_full: float | None
    full_at: datetime | None
