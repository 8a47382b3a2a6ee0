"""Building the gRPC channel to the collector: TLS, keepalive and message size."""

from __future__ import annotations

import logging

import grpc

from agent.config import ServerSettings, TlsSettings

__all__ = ["channel_options", "open_channel"]

log = logging.getLogger(__name__)

# Pings detect a dead collector behind a silent NAT or load balancer. 60 s stays
# well above gRPC servers' default ping-abuse threshold while batches flow.
KEEPALIVE_TIME_MS = 60_000
KEEPALIVE_TIMEOUT_MS = 20_000


def channel_options(server: ServerSettings, tls: TlsSettings) -> list[tuple[str, int | str]]:
    """Channel arguments for the agent link."""
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", server.max_message_bytes),
        ("grpc.max_receive_message_length", server.max_message_bytes),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.http2.max_pings_without_data", 0),
        # The runtime does its own reconnects with backoff and resends.
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", 500),
        ("grpc.max_reconnect_backoff_ms", 30_000),
    ]
    if tls.enabled and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


def _read(path: object) -> bytes | None:
    if path is None:
        return None
    with open(str(path), "rb") as fh:
        return fh.read()


def open_channel(server: ServerSettings, tls: TlsSettings) -> grpc.aio.Channel:
    """A new channel; certificate files are re-read each time so rotation needs no restart."""
    options = channel_options(server, tls)
    if not tls.enabled:
        return grpc.aio.insecure_channel(server.address, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file),
        private_key=_read(tls.key_file),
        certificate_chain=_read(tls.cert_file),
    )
    return grpc.aio.secure_channel(server.address, credentials, options=options)
