"""Messages of the live WebSocket ``/api/live``.

Client to server: ``auth`` (unless the token came as a query parameter),
``subscribe`` and ``ping``. Server to client: ``welcome``, ``subscribed``,
``sample``, ``status``, ``pong`` and ``error``. Every message is a JSON object whose
``type`` field says which one it is.

A ``sample`` carries ``vps_id`` and, under ``sample``, the collector's payload
as it was published: at least ``vps_id`` and ``time_ms``, and the newest
values such as ``cpu_percent``, ``memory_used_bytes`` and ``memory_total_bytes``.

A ``status`` says a VPS went online or offline, when the collector recorded it
(``time_ms``) and why.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

__all__ = [
    "LIVE_CHANNEL",
    "LiveAuth",
    "LiveClientMessage",
    "LiveError",
    "LivePing",
    "LivePong",
    "LiveSampleHeader",
    "LiveStatus",
    "LiveStatusPayload",
    "LiveSubscribe",
    "LiveSubscribed",
    "LiveWelcome",
]

# The PostgreSQL channel the collector NOTIFYs after each commit.
LIVE_CHANNEL = "tidewatch_live"

VpsId = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class LiveAuth(Struct, tag="auth", tag_field="type", forbid_unknown_fields=True):
    """First message, when no ``token`` query parameter was given."""

    token: str


class LiveSubscribe(Struct, tag="subscribe", tag_field="type", forbid_unknown_fields=True):
    """Replace the subscription: these VPS ids, or every VPS with ``all``.

    ``watch`` asks for watch mode: while the socket is subscribed, the agents of
    the named VPSes send each snapshot at once instead of batching. Granted only
    for a subscription naming a few VPSes (the API's ``live_watch_max_vps``);
    ``subscribed.watching`` says which.
    """

    vps_ids: Annotated[list[VpsId], Meta(max_length=10_000)] = []
    all: bool = False
    watch: bool = False


class LivePing(Struct, tag="ping", tag_field="type", forbid_unknown_fields=True):
    """Keep-alive; answered with ``pong``."""


LiveClientMessage = LiveAuth | LiveSubscribe | LivePing


class LiveWelcome(Struct, tag="welcome", tag_field="type"):
    """Sent once the client is authenticated."""

    username: str
    role: str


class LiveSubscribed(Struct, tag="subscribed", tag_field="type"):
    """Acknowledges a subscription. ``listening`` is false while the server
    has lost its database feed (it reconnects by itself)."""

    vps_ids: list[int]
    all: bool
    listening: bool
    watching: list[int] = []


class LivePong(Struct, tag="pong", tag_field="type"):
    """Answer to ``ping``."""


class LiveError(Struct, tag="error", tag_field="type"):
    """A problem with the client's last message; the socket stays open
    unless the problem is authentication."""

    detail: str


class LiveSampleHeader(Struct):
    """The part of a collector payload the server reads to route it. ``kind`` is
    ``sample`` (the default: samples predate it) or ``status``."""

    vps_id: int
    time_ms: int
    kind: str = "sample"


class LiveStatusPayload(Struct):
    """A collector's ``status`` payload: a VPS went online or offline."""

    vps_id: int
    time_ms: int
    online: bool
    reason: str = ""


class LiveStatus(Struct, tag="status", tag_field="type"):
    """Pushed when a subscribed VPS goes online or offline."""

    vps_id: int
    online: bool
    time_ms: int
    reason: str
