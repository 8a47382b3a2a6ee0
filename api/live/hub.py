"""The live feed's channel, fanned out to WebSocket subscribers.

The collector NOTIFYs ``tidewatch_live`` after each commit with a small JSON
object, signed (common.live_signing). The hub verifies the signature, reads the
``vps_id``, wraps it once as a ``sample`` message (or a ``status`` message, for the
collector's online/offline transitions) and hands the same bytes to every
subscriber that wants that VPS. A slow client loses its oldest queued messages;
it never slows the hub or other clients.

Any database role may NOTIFY: an unsigned or wrongly signed payload is dropped,
and so is a genuine one replayed after a newer one of the same kind and VPS.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psycopg

from api.listening import ChannelListener
from common.api_models import LIVE_CHANNEL, LiveSampleHeader
from common.api_models.live import LiveStatus, LiveStatusPayload
from common.live_signing import LIVE_KEY_QUERY, verify_live_payload

__all__ = ["LiveHub", "Subscriber"]

log = logging.getLogger("tidewatch.api.live")

QUEUE_SIZE = 256
_header_decoder = msgspec.json.Decoder(LiveSampleHeader)
_status_decoder = msgspec.json.Decoder(LiveStatusPayload)
_encoder = msgspec.json.Encoder()
KINDS = ("sample", "status")


@dataclass(eq=False)
class Subscriber:
    """One client's filter and outbox."""

    vps_ids: frozenset[int] = frozenset()
    all: bool = False
    # The VPSes this client holds in watch mode (api.live.watch).
    watching: frozenset[int] = frozenset()
    dropped: int = 0
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, vps_id: int) -> bool:
        return self.all or vps_id in self.vps_ids

    def offer(self, message: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)


class LiveHub(ChannelListener):
    """Verifies the collector's samples and routes them to subscribers."""

    def __init__(self, channel: str = LIVE_CHANNEL) -> None:
        super().__init__(channel, label="live feed")
        self._subscribers: set[Subscriber] = set()
        self._key: bytes | None = None
        # Per kind, the newest time_ms relayed for each VPS: older ones are replays.
        self._newest_ms: dict[str, dict[int, int]] = {kind: {} for kind in KINDS}
        self.refused = 0

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, payload: str | bytes) -> None:
        """Route one collector payload to the subscribers that want it, if it is genuine."""
        raw = verify_live_payload(self._key, payload) if self._key is not None else None
        if raw is None:
            self._refuse("payload not signed by the collector")
            return
        try:
            header = _header_decoder.decode(raw)
            status = _status_decoder.decode(raw) if header.kind == "status" else None
        except msgspec.DecodeError as exc:
            self._refuse(f"malformed payload: {exc}")
            return
        if header.kind not in KINDS:
            self._refuse(f"unknown kind {header.kind!r}")
            return
        newest = self._newest_ms[header.kind]
        if header.time_ms <= newest.get(header.vps_id, -(2**63)):
            self._refuse(f"vps {header.vps_id}: {header.kind} not newer than the last one (a replay?)")
            return
        newest[header.vps_id] = header.time_ms
        targets = [s for s in self._subscribers if s.wants(header.vps_id)]
        if not targets:
            return
        if status is not None:
            message = _encoder.encode(LiveStatus(status.vps_id, status.online, status.time_ms, status.reason))
        else:
            # The payload decoded as a JSON object above, so it embeds as is.
            message = b'{"type":"sample","vps_id":%d,"sample":%b}' % (header.vps_id, raw)
        for subscriber in targets:
            subscriber.offer(message)

    def _refuse(self, why: str) -> None:
        self.refused += 1
        if self.refused & (self.refused - 1) == 0:  # 1st, 2nd, 4th…: a flood cannot flood the log
            log.warning("dropped %d %s notification(s); latest: %s", self.refused, self.channel, why)

    def on_notify(self, payload: str) -> None:
        self.publish(payload)

    async def on_listen(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Load the collector's signing key: nothing is relayed before it."""
        row = await (await conn.execute(LIVE_KEY_QUERY)).fetchone()
        if row is None:
            raise psycopg.ProgrammingError("no live_notify_hmac key: run tidewatch-migrate")
        self._key = bytes(row[0])
