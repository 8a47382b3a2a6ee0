"""The public status page: what an admin configures, and what visitors see.

:class:`StatusPageOut` is public. It carries no server id, name, address,
hostname or label: only the display name the admin chose (or "Server N").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from common.api_models.alerts import Id, Name

__all__ = [
    "MAX_GROUPS",
    "MAX_SERVERS",
    "StatusGroupIn",
    "StatusGroupOut",
    "StatusPageConfig",
    "StatusPageConfigOut",
    "StatusPageOut",
    "StatusServerIn",
    "StatusServerOut",
]

MAX_GROUPS = 50
MAX_SERVERS = 500
Percent = Annotated[float, Meta(ge=0, le=100)]


class StatusServerIn(Struct, forbid_unknown_fields=True):
    """A server on the page; without ``display_name`` it is shown as "Server N"."""

    vps_id: Id
    display_name: Name | None = None


class StatusGroupIn(Struct, forbid_unknown_fields=True):
    """A titled section of the page, its servers in order."""

    title: Name
    servers: Annotated[list[StatusServerIn], Meta(max_length=MAX_SERVERS)] = msgspec.field(
        default_factory=list
    )


class StatusPageConfig(Struct, forbid_unknown_fields=True):
    """``PUT /api/status-page/config``: the whole page (replaces what was there).
    A server may appear once on the page."""

    enabled: bool
    title: Name = "Service status"
    groups: Annotated[list[StatusGroupIn], Meta(max_length=MAX_GROUPS)] = msgspec.field(default_factory=list)


class StatusPageConfigOut(Struct):
    """The page's configuration, for admins."""

    enabled: bool
    title: str
    groups: list[StatusGroupIn]
    updated_at: datetime


class StatusServerOut(Struct):
    """One server as visitors see it. Uptimes are None before the server existed;
    load and CPU are None while it is offline or has not reported."""

    name: str
    online: bool
    uptime_24h_percent: Percent | None
    uptime_7d_percent: Percent | None
    uptime_30d_percent: Percent | None
    load_1: float | None
    cpu_percent: Percent | None


class StatusGroupOut(Struct):
    title: str
    servers: list[StatusServerOut]


class StatusPageOut(Struct):
    """``GET /api/status-page``: public, cached for a few seconds."""

    title: str
    generated_at: datetime
    groups: list[StatusGroupOut]
