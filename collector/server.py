"""Build the gRPC server: the agent service, message limits, keepalive and TLS."""

from __future__ import annotations

from pathlib import Path

import grpc

from collector.service import AgentStreamService, parse_message_to_server
from common.settings import CollectorSettings, SettingsError

__all__ = ["PENDING_CALLS_HARD_LIMIT", "PENDING_CALLS_SOFT_LIMIT", "SERVICE_NAME", "build_server"]

SERVICE_NAME = "tidewatch.v1.AgentCommunicationService"
# gRPC core's backlog of calls not yet taken by the server (see build_server).
PENDING_CALLS_SOFT_LIMIT = 20_000
PENDING_CALLS_HARD_LIMIT = 40_000


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the {what} at {path}: {exc.strerror}") from None


def server_credentials(settings: CollectorSettings) -> grpc.ServerCredentials | None:
    """TLS from file paths; with a client CA, agents must present a certificate (mTLS)."""
    if not settings.tls_cert_file and not settings.tls_key_file:
        if settings.tls_client_ca_file:
            raise SettingsError(
                "TIDEWATCH_COLLECTOR_TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE too"
            )
        return None
    if not (settings.tls_cert_file and settings.tls_key_file):
        raise SettingsError("set both TIDEWATCH_COLLECTOR_TLS_CERT_FILE and TIDEWATCH_COLLECTOR_TLS_KEY_FILE")
    key = _read(settings.tls_key_file, "TLS key")
    cert = _read(settings.tls_cert_file, "TLS certificate")
    client_ca = _read(settings.tls_client_ca_file, "client CA") if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def build_server(settings: CollectorSettings, service: AgentStreamService) -> tuple[grpc.aio.Server, int]:
    """The server, not started, and the port it bound (useful with port 0)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            # Ping every agent every 30 s; a peer that does not answer within 10 s is gone.
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            # Peers may ping at most every 10 s; after 2 strikes the server sends GOAWAY.
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.max_ping_strikes", 2),
            ("grpc.keepalive_permit_without_calls", 1),
            # A connection without calls is closed: no one holds a socket for free.
            ("grpc.max_connection_idle_ms", int(settings.connection_idle_s * 1000)),
            ("grpc.server_handshake_timeout_ms", int(settings.connection_handshake_s * 1000)),
            # grpcio's default on Linux, made explicit: several collectors on one host may
            # listen on the same port and the kernel spreads new connections among them.
            ("grpc.so_reuseport", 1),
            # gRPC's default, made explicit: the per-IP connection cap counts sockets through channelz.
            ("grpc.enable_channelz", 1),
            # Calls gRPC core holds until the Python server takes them (one per event-loop
            # turn). Past the soft limit (core default 1,000) core cancels new calls at
            # random (RST_STREAM CANCEL: agents read CANCELLED, or INTERNAL when mid-write),
            # so a fleet reconnecting at once after a restart lost ~5 % of its handshakes.
            # Sized for a fleet's storm; per-IP limits apply once the handler runs.
            ("grpc.server.max_pending_requests", PENDING_CALLS_SOFT_LIMIT),
            ("grpc.server.max_pending_requests_hard_limit", PENDING_CALLS_HARD_LIMIT),
        ],
    )
    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "EstablishCommunicationStream": grpc.stream_stream_rpc_method_handler(
                service.stream,
                request_deserializer=parse_message_to_server,
                response_serializer=lambda m: m.SerializeToString(),
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    credentials = server_credentials(settings)
    if credentials is None:
        port = server.add_insecure_port(settings.listen)
    else:
        port = server.add_secure_port(settings.listen, credentials)
    if port == 0:
        raise SettingsError(f"cannot listen on {settings.listen} (in use, or not a local address?)")
    return server, port
