"""Server-side settings, read from ``TIDEWATCH_*`` environment variables.

Each service has one settings Struct. Unknown ``TIDEWATCH_<SERVICE>_*``
variables are errors, so a typo is reported instead of silently ignored.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec

from common.addresses import split_host_port
from common.api_models.settings import PUBLIC_URL_PATTERN

__all__ = [
    "DEFAULT_COLLECTOR_LISTEN",
    "INSTALL_PREFIX",
    "ApiSettings",
    "CollectorSettings",
    "DashboardSettings",
    "InstallSettings",
    "SettingsError",
    "load_settings",
    "resolve_dsn",
]

LOCAL_DSN_FILE = Path(os.environ.get("TIDEWATCH_STATE", "/var/lib/tidewatch-dev")) / "local-db.dsn"
DEFAULT_COLLECTOR_LISTEN = "127.0.0.1:50051"
INSTALL_PREFIX = "TIDEWATCH_INSTALL_"


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and what to do."""


class CollectorSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Settings for ``tidewatch-collector`` (prefix ``TIDEWATCH_COLLECTOR_``)."""

    listen: str = DEFAULT_COLLECTOR_LISTEN
    collector_id: str = f"{socket.gethostname()}-{os.getpid()}"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # With a client CA, agents must present a certificate it signed (mutual TLS).
    tls_client_ca_file: str = ""
    max_message_bytes: int = 8 * 1024 * 1024
    # Batch bundles (proto BatchBundling): offered to agents that announce them;
    # false answers like an older collector (one BatchAck per batch, no bundles).
    batch_bundles: bool = True
    bundle_max_batches: int = 64
    # Capped at max_message_bytes.
    bundle_max_bytes: int = 1024 * 1024
    flush_max_rows: int = 20_000
    flush_interval_ms: int = 200
    # The asyncio event loop the collector runs on (common/event_loop.py): uvloop
    # costs less per wake-up; "asyncio" is the standard library's. No silent fallback.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Rows waiting for the database, across agents; past this, batches are refused
    # with RESOURCE_EXHAUSTED (the agent keeps them and retries).
    queue_max_rows: int = 400_000
    # How long a batch may wait for room in that queue before the refusal.
    queue_wait_s: float = 10.0
    pool_min_size: int = 2
    pool_max_size: int = 8
    # Client-side limits on database work, so a frozen database is noticed
    # (docs/architecture.md, "When the database stops answering"). One ingest
    # transaction: a connection, COPY of up to flush_max_rows rows, COMMIT.
    db_write_timeout_s: float = 10.0
    # Any other unit of work: handshakes, last_seen, housekeeping, commands.
    db_query_timeout_s: float = 5.0
    # Establishing one connection (libpq connect_timeout, whole seconds, at least 2).
    db_connect_timeout_s: float = 5.0
    metrics_listen: str = "127.0.0.1:9464"
    heartbeat_interval_s: float = 10.0
    # An agent silent for this long is marked offline.
    offline_after_s: float = 30.0
    maintenance_interval_s: float = 60.0
    rollup_late_window_s: float = 180.0
    max_future_skew_s: float = 300.0
    # Connection limits for the gRPC port (docs/security.md, "Threat model: gRPC peers").
    # A connection with no call open for this long is closed (GOAWAY); agents hold a call.
    connection_idle_s: float = 300.0
    # A TCP connection must finish its TLS / HTTP/2 handshake within this.
    connection_handshake_s: float = 10.0
    # Streams per peer IP that have not finished their agent handshake yet; more are
    # refused with RESOURCE_EXHAUSTED. Established agents do not count.
    unestablished_streams_per_ip: int = 16
    # TCP connections per peer IP without an established agent stream; the oldest are
    # kept, the rest closed within a second (collector/connection_cap.py).
    unauthenticated_connections_per_ip: int = 64
    # Fleet-wide agent settings pushed at connect; 0 leaves each agent's own
    # value. Per-VPS overrides (vps.agent_config) win over these.
    snapshot_interval_ms: int = 0
    docker_interval_ms: int = 0
    generic_interval_ms: int = 0
    agent_heartbeat_interval_ms: int = 0
    batch_max_snapshots: int = 0
    batch_max_delay_ms: int = 0


class ApiSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Settings for ``tidewatch-api`` (prefix ``TIDEWATCH_API_``)."""

    listen: str = "127.0.0.1:8000"
    session_ttl_hours: float = 24.0 * 7
    max_points_per_series: int = 1500
    command_wait_s: float = 10.0
    allow_registration: bool = True
    # A request's database work (connection, queries, commit), enforced by the
    # client; the server's statement_timeout is the same.
    db_query_timeout_s: float = 30.0
    # /api/health answers within this: 200, or a 503 problem when the database
    # refuses or does not answer.
    health_timeout_s: float = 2.0
    # Establishing one connection (libpq connect_timeout, whole seconds, at least 2).
    db_connect_timeout_s: float = 5.0
    # Watch mode (docs/live.md): a VPS viewed live keeps its agent sending each
    # snapshot at once until this long after its last viewer left.
    live_watch_grace_s: float = 30.0
    # A live subscription naming more VPSes than this (a big fleet page) does not watch them.
    live_watch_max_vps: int = 12


class DashboardSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Settings for ``tidewatch-dashboards`` (prefix ``TIDEWATCH_DASHBOARDS_``)."""

    listen: str = "127.0.0.1:8050"
    api_url: str = "http://127.0.0.1:8000"
    live_refresh_ms: int = 1000
    # The API's address as the browser reaches it, for the live WebSocket (for example
    # https://monitor.example.com behind a proxy); empty means api_url.
    public_api_url: str = ""
    # Requests served at once: each Dash callback waits on the API while it runs.
    threads: Annotated[int, msgspec.Meta(ge=1, le=256)] = 8


class InstallSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How a new VPS's agent reaches the collector, as its install command says (prefix
    ``TIDEWATCH_INSTALL_``). Read by the API, the dashboards and ``tidewatch-admin``:
    set the same values wherever those run."""

    # host:port agents on other machines connect to: the collector's public name.
    collector_address: str = DEFAULT_COLLECTOR_LISTEN
    # Whether the collector speaks TLS (it does once it has a certificate).
    tls: bool = True
    # Where agents find the CA that signed the collector's certificate; empty for the
    # system's trusted CAs.
    ca_file: str = ""
    # The API's URL as VPSes reach it, for the one-line install command (curl … | sudo bash).
    api_url: str = "http://127.0.0.1:8000"

    def __post_init__(self) -> None:
        try:
            split_host_port(self.collector_address)
        except ValueError as exc:
            raise ValueError(f"collector_address: {exc}") from None
        if self.ca_file and not self.tls:
            raise ValueError("ca_file is set but tls is false: a CA only matters with TLS")
        if not re.match(PUBLIC_URL_PATTERN, self.api_url):
            raise ValueError(f"api_url: expected http(s)://host[:port][/path], got {self.api_url!r}")


SettingsT = TypeVar("SettingsT", CollectorSettings, ApiSettings, DashboardSettings, InstallSettings)


def load_settings(kind: type[SettingsT], prefix: str, environ: Mapping[str, str] | None = None) -> SettingsT:
    """Build ``kind`` from ``<prefix><FIELD>`` environment variables."""
    env = os.environ if environ is None else environ
    raw = {key[len(prefix) :].lower(): value for key, value in env.items() if key.startswith(prefix)}
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid {prefix}* setting: {exc} (check your environment)") from exc


def resolve_dsn(environ: Mapping[str, str] | None = None) -> str:
    """The database DSN: ``TIDEWATCH_DSN`` wins, else the local development database."""
    env = os.environ if environ is None else environ
    if dsn := env.get("TIDEWATCH_DSN", "").strip():
        return dsn
    try:
        return LOCAL_DSN_FILE.read_text().strip()
    except OSError:
        raise SettingsError(
            "no database configured: set TIDEWATCH_DSN=postgresql://user:pass@host:5432/db, "
            "or start the local TimescaleDB with scripts/local-db.sh"
        ) from None
