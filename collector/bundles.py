"""Batch bundles (proto ``BatchBundling``): what this collector offers, and a bundle's batches.

Both ends announce bundling in the handshake. An agent that announced it gets the
offer (limits included) and may then send ``BatchBundle`` messages; its acks are
gathered per stream (``AgentSession.send_ack``) and leave together as ``BatchAcks``.
Every batch in a bundle is accepted, checked and acknowledged as if it came alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from common.settings import CollectorSettings
from proto import agent_pb2

__all__ = ["BundleRefused", "bundle_batches", "bundling_offer"]

# Bundle field -> the MessageToServer batch payload it carries (same field numbers).
_BUNDLE_FIELDS = (
    ("performance_batches", "performance_batch"),
    ("docker_batches", "docker_batch"),
    ("generic_metrics_batches", "generic_metrics_batch"),
)


class BundleRefused(Exception):
    """A bundle this collector does not take: not offered, empty or over its limit."""


def bundling_offer(
    settings: CollectorSettings, handshake: agent_pb2.AgentHandshake
) -> agent_pb2.BatchBundling | None:
    """The ``ServerHandshakeAck.batch_bundling`` answer; None leaves the agent on single batches."""
    if not (settings.batch_bundles and handshake.batch_bundling.supported):
        return None
    return agent_pb2.BatchBundling(
        supported=True,
        max_batches=settings.bundle_max_batches,
        max_bytes=min(settings.bundle_max_bytes, settings.max_message_bytes),
    )


def bundle_batches(bundle: agent_pb2.BatchBundle, max_batches: int) -> Iterator[tuple[str, Any]]:
    """``(payload kind, batch)`` for each batch of ``bundle``, checked against the offer first."""
    count = len(bundle.performance_batches) + len(bundle.docker_batches) + len(bundle.generic_metrics_batches)
    if count == 0:
        raise BundleRefused("batch_bundle holds no batches")
    if count > max_batches:
        raise BundleRefused(f"batch_bundle holds {count} batches; this collector takes at most {max_batches}")
    for field, kind in _BUNDLE_FIELDS:
        for batch in getattr(bundle, field):
            yield kind, batch
