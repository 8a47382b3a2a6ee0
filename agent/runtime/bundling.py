"""Batch bundles on the agent's side: which pending batches travel together, and when.

Once the collector offered bundling (``ServerHandshakeAck.batch_bundling``), the
writer sends every batch it may send (within ``max_in_flight``) in one
``BatchBundle``, up to the collector's batch and byte limits. A batch that is not a
performance batch (a Docker sample, generic metrics) waits for the next performance
batch when that is due within ``batch_max_delay_s``, so both leave in one message;
the wait is bounded by that delay, and the batch is in the spool while it waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.runtime.pending import PendingStore
from proto import agent_pb2

__all__ = ["BundleLimits", "BundlePlanner", "build_bundle"]

# A bundle's own tag and length prefix, at most (field 8, a varint of up to 5 bytes).
_BUNDLE_OVERHEAD_BYTES = 6
# Sampling the snapshot that completes a batch takes a moment after it is due.
_DUE_SLACK_S = 0.5

_BUNDLE_FIELDS = {
    "performance_batch": "performance_batches",
    "docker_batch": "docker_batches",
    "generic_metrics_batch": "generic_metrics_batches",
}


@dataclass(frozen=True)
class BundleLimits:
    """What the collector offered, narrowed to this agent's own message limit."""

    max_batches: int
    max_bytes: int

    @classmethod
    def offered(cls, ack: agent_pb2.ServerHandshakeAck, own_max_bytes: int) -> BundleLimits | None:
        """The limits of ``ack``'s offer, or None when the collector made none (single batches)."""
        if not (ack.HasField("batch_bundling") and ack.batch_bundling.supported):
            return None
        offer = ack.batch_bundling
        max_batches = offer.max_batches
        max_bytes = min(offer.max_bytes or own_max_bytes, own_max_bytes)
        if max_batches < 2 or max_bytes <= _BUNDLE_OVERHEAD_BYTES:
            return None
        return cls(max_batches=max_batches, max_bytes=max_bytes)


def build_bundle(messages: list[agent_pb2.MessageToServer]) -> agent_pb2.MessageToServer:
    """One message for ``messages``: the single batch itself, or a BatchBundle of them all."""
    if len(messages) == 1:
        return messages[0]
    bundle = agent_pb2.BatchBundle()
    for message in messages:
        kind = message.WhichOneof("payload")
        if kind is None:
            raise ValueError("not a batch message: None")
        getattr(bundle, _BUNDLE_FIELDS[kind]).append(getattr(message, kind))
    return agent_pb2.MessageToServer(batch_bundle=bundle)


class BundlePlanner:
    """Picks the batches of the next send, and says how long to hold a lone early batch."""

    def __init__(
        self,
        limits: BundleLimits,
        store: PendingStore,
        *,
        next_batch_due: Callable[[], float | None],
        hold_max_s: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._store = store
        self._next_batch_due = next_batch_due
        self._hold_max_s = hold_max_s
        self._clock = clock
        self._hold_until: float | None = None

    def take(
        self, cursor: int, room: int
    ) -> tuple[list[tuple[int, agent_pb2.MessageToServer]], float | None]:
        """Up to ``room`` pending batches after ``cursor`` for one send, oldest first.

        Returns the batches (possibly none) and, when they are held back to wait for
        the next performance batch, the seconds left to wait (then the list is empty).
        """
        picked: list[tuple[int, agent_pb2.MessageToServer]] = []
        size = _BUNDLE_OVERHEAD_BYTES
        limit = min(room, self.limits.max_batches)
        while len(picked) < limit:
            found = self._store.next_after(cursor)
            if found is None:
                break
            message_size = found[1].ByteSize()
            if picked and size + message_size > self.limits.max_bytes:
                break  # the next send takes it; a batch over the limit alone goes alone
            picked.append(found)
            size += message_size
            cursor = found[0]
        if not picked:
            return picked, None
        wait_s = self._hold(picked)
        if wait_s is not None:
            return [], wait_s
        self._hold_until = None
        return picked, None

    def _hold(self, picked: list[tuple[int, agent_pb2.MessageToServer]]) -> float | None:
        if len(picked) >= self.limits.max_batches:
            return None
        if any(message.WhichOneof("payload") == "performance_batch" for _, message in picked):
            return None
        now = self._clock()
        due = self._next_batch_due()
        if due is None:
            return None  # sampling stopped (the agent is shutting down): nothing to wait for
        if self._hold_until is None:
            hold_max_s = self._hold_max_s()
            if due - now > hold_max_s:
                return None
            self._hold_until = min(due + _DUE_SLACK_S, now + hold_max_s)
        if now >= self._hold_until:
            return None
        return self._hold_until - now
