"""Server settings an admin changes at run time: registration and how new agents are installed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from common.api_models.text import END
from common.api_models.vps import HOST_PATTERN

__all__ = [
    "PUBLIC_URL_PATTERN",
    "CaPem",
    "CollectorHost",
    "CollectorPort",
    "PublicUrl",
    "RetentionOut",
    "ServerSettingsOut",
    "ServerSettingsUpdate",
]

# http(s)://host[:port][/path], no query or fragment: the install command appends
# /agent/install.sh to it (a trailing slash is dropped).
PUBLIC_URL_PATTERN = rf"^https?://{HOST_PATTERN}(?::[0-9]{{1,5}})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*/?{END}"
PublicUrl = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2048,
        pattern=PUBLIC_URL_PATTERN,
        description="The API's URL as VPSes reach it (http or https); a trailing slash is dropped",
        examples=["https://tidewatch.example.com"],
    ),
]
CollectorHost = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=253,
        pattern=rf"^{HOST_PATTERN}{END}",
        description="The collector's public host name or IP address, as agents reach it",
        examples=["collector.example.com"],
    ),
]
CollectorPort = Annotated[int, Meta(ge=1, le=65535, description="The collector's public gRPC port")]
# Certificates only: base64 between the markers, so the text is safe to embed anywhere.
CaPem = Annotated[
    str,
    Meta(
        max_length=65536,
        pattern=r"^(?:-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?)*"
        + END,
        description="PEM certificates of the CA that signed the collector's certificate; empty for the "
        "system's trusted CAs. Only meaningful with collector_tls.",
    ),
]


class RetentionOut(Struct):
    """How long one table or rollup keeps its data (``tidewatch-admin set-retention`` changes it)."""

    relation: str
    keep_seconds: int


class ServerSettingsOut(Struct):
    """The settings in force: each is the admin's value, or the environment's default until set."""

    allow_registration: bool
    public_api_url: str
    collector_host: str
    collector_port: int
    collector_tls: bool
    collector_ca_pem: str
    # host:port as the agent's config takes it (IPv6 in brackets).
    collector_address: str
    # The command "Add server" shows, with a placeholder for the agent token.
    install_command_example: str
    retention: list[RetentionOut]
    updated_at: datetime | None = None
    updated_by: str | None = None


class ServerSettingsUpdate(Struct, forbid_unknown_fields=True):
    """``PATCH /api/settings``: absent fields stay as they are."""

    allow_registration: bool | UnsetType = UNSET
    public_api_url: PublicUrl | UnsetType = UNSET
    collector_host: CollectorHost | UnsetType = UNSET
    collector_port: CollectorPort | UnsetType = UNSET
    collector_tls: bool | UnsetType = UNSET
    collector_ca_pem: CaPem | UnsetType = UNSET
