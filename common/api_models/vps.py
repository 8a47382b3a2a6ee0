"""VPS records: what an operator enters, and what the fleet views show."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from common.api_models.text import END, TEXT_PATTERN

__all__ = [
    "HOST_PATTERN",
    "LatestMetrics",
    "VpsCreate",
    "VpsCreated",
    "VpsOut",
    "VpsTokenRotated",
    "VpsUpdate",
]

VpsName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=TEXT_PATTERN,
        description="1-128 characters, no control or invisible characters",
        examples=["web-01"],
    ),
]
# An IP address or a host name; empty when unknown. The pattern is the whole check, so the
# OpenAPI document states exactly what the API accepts: a host name (which covers IPv4's
# dotted quads) or an IPv6 address, optionally bracketed and with a zone.
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*"
_IPV6 = r"\[?[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9_.-]+)?\]?"
# A host name or an IPv6 address, as one group (no anchors): other models reuse it.
HOST_PATTERN = rf"(?:{_HOST_NAME}|{_IPV6})"
IpAddress = Annotated[
    str,
    Meta(
        max_length=253,
        pattern=rf"^(?:{_HOST_NAME}|{_IPV6})?{END}",
        description="An IP address or a host name; empty when unknown",
        examples=["203.0.113.7"],
    ),
]
LabelKey = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_./-]{1,63}" + END)]
LabelValue = Annotated[str, Meta(max_length=256, pattern=TEXT_PATTERN)]
Labels = Annotated[dict[LabelKey, LabelValue], Meta(max_length=64)]
ResetDay = Annotated[int, Meta(ge=1, le=28)]
QuotaBytes = Annotated[int, Meta(gt=0, le=2**63 - 1)]


class VpsCreate(Struct, forbid_unknown_fields=True):
    """``POST /api/vps``: a new VPS; the response carries its agent token once."""

    name: VpsName
    ip_address: IpAddress = ""
    labels: Labels = msgspec.field(default_factory=dict)


class VpsUpdate(Struct, forbid_unknown_fields=True):
    """``PATCH /api/vps/{id}``: absent fields stay; ``traffic_quota_bytes: null`` clears the quota."""

    name: VpsName | UnsetType = UNSET
    ip_address: IpAddress | UnsetType = UNSET
    labels: Labels | UnsetType = UNSET
    traffic_reset_day: ResetDay | UnsetType = UNSET
    traffic_quota_bytes: QuotaBytes | UnsetType | None = UNSET


class LatestMetrics(Struct):
    """The newest sample of a VPS, for fleet views. Disk sums the newest
    sample's mounts once per device; network sums every interface."""

    time: datetime
    cpu_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    swap_used_bytes: int
    swap_total_bytes: int
    load_1: float
    uptime_seconds: int
    disk_used_bytes: int | None = None
    disk_total_bytes: int | None = None
    net_rx_bytes_per_second: float | None = None
    net_tx_bytes_per_second: float | None = None


class VpsOut(Struct):
    """A VPS with what its agent reported at connect and its session state."""

    id: int
    name: str
    ip_address: str
    labels: dict[str, str]
    created_at: datetime
    token_rotated_at: datetime
    online: bool
    last_seen: datetime | None = None
    connected_at: datetime | None = None
    hostname: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    kernel_version: str | None = None
    architecture: str | None = None
    cpu_model: str | None = None
    cpu_physical_cores: int | None = None
    cpu_logical_cores: int | None = None
    memory_total_bytes: int | None = None
    swap_total_bytes: int | None = None
    boot_time: datetime | None = None
    ip_addresses: list[str] = msgspec.field(default_factory=list)
    virtualization: str | None = None
    agent_version: str | None = None
    # Host facts the agent escaped (not valid UTF-8 or control characters), e.g. ["hostname"].
    sanitised_fields: list[str] = msgspec.field(default_factory=list)
    traffic_reset_day: int = 1
    traffic_quota_bytes: int | None = None
    latest: LatestMetrics | None = None
    # The agent's clock, as its collector last recorded it: collector time minus
    # agent time (negative: the agent is ahead). Samples are stored corrected.
    clock_offset_ms: int | None = None
    clock_rtt_ms: int | None = None
    clock_checked_at: datetime | None = None
    # Past ±5 minutes (common.clock.CLOCK_SKEW_LIMIT_MS): "clock skewed by 9 min 56 s (ahead)".
    clock_skewed: bool = False
    clock_note: str | None = None
    # Batches the collector refused for good (the agent dropped them), and the last reason.
    rejected_batches_total: int = 0
    last_rejected_at: datetime | None = None
    last_rejection: str | None = None


class VpsCreated(Struct):
    """The new VPS and its agent token. The token is shown only here: only its hash is kept."""

    vps: VpsOut
    agent_token: str
    # curl -fsSL <public API URL>/agent/install.sh | sudo bash -s -- --token <agent_token>
    install_command: str


class VpsTokenRotated(Struct):
    """A replacement agent token; the old one stops working at once."""

    vps_id: int
    agent_token: str
    token_rotated_at: datetime
    # The one-line install again, with the new token: it rewrites the agent's config.
    install_command: str
