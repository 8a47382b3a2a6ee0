"""Which agents this collector holds, and their online state in the database.

An agent is marked online when its stream opens or it is heard from, and
offline only after ``offline_after_s`` of silence, checked fleet-wide. A
dropped stream alone never marks it offline: a collector restart or a network
blip must not page anyone. Each transition is written once, as an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import grpc

from collector import metrics
from collector.agent_clock import AgentClock, RejectionTally, record_agent_health
from collector.agent_config import effective_config
from collector.agent_session import TAKEN_OVER, TOKEN_ROTATED, VPS_REMOVED, AgentSession
from collector.command_failures import fail_in_flight_where
from collector.database import Database
from collector.live_notify import LiveNotifier, record_status_event
from common.channels import SESSION_TAKEN_CHANNEL
from common.db_limits import is_connection_failure
from common.epoch import YEAR_10000_MS
from common.settings import CollectorSettings
from proto import agent_pb2

__all__ = ["SessionRegistry"]

log = logging.getLogger("tidewatch.collector.sessions")

# Whether a VPS has an unexpired watch lease; read with its agent_config.
_WATCHED = "EXISTS (SELECT 1 FROM live_watch_leases l WHERE l.vps_id = vps.id AND l.expires_at > now())"

# Hints (NOTIFY) arriving within this long of each other share one re-read of the vps rows.
HINT_GATHER_S = 0.02

# A collector heartbeat older than this means it had stopped (or the database was away).
_HEARTBEAT_GAP_S = 20.0


def _text(value: str, limit: int) -> str:
    """Host facts are informational: cleaned to what PostgreSQL stores, never refused."""
    return value.replace("\x00", "")[:limit]


class SessionRegistry:
    def __init__(self, db: Database, settings: CollectorSettings) -> None:
        self._db = db
        self._stopping = False
        # Streams registered here whose clean-up has not finished (see stream_done).
        self._unfinished: set[str] = set()
        self._settings = settings
        self._sessions: dict[int, AgentSession] = {}
        self._heard: set[int] = set()
        # Written to the database by housekeeping: latest clocks, refused batches.
        self._clocks: dict[int, AgentClock] = {}
        self._rejections: dict[int, RejectionTally] = {}
        # Whether this process has written its collector_instances row since it started.
        self._announced = False
        # Signs the online/offline messages for live views.
        self._live = LiveNotifier()
        # Set by the app: ends the commands sent on a stream that is gone (vps id, stream id).
        self.on_stream_gone: Callable[[int, str], Awaitable[object]] | None = None
        # Hinted VPS ids waiting for one shared re-read (see recheck_soon).
        self._recheck_ids: set[int] = set()
        self._rechecker: asyncio.Task[None] | None = None

    def get(self, vps_id: int) -> AgentSession | None:
        return self._sessions.get(vps_id)

    def held_vps_ids(self) -> list[int]:
        return list(self._sessions)

    def all(self) -> list[AgentSession]:
        return list(self._sessions.values())

    async def open(self, session: AgentSession, handshake: agent_pb2.AgentHandshake) -> agent_pb2.AgentConfig:
        """Register the stream (cutting an older one for the same VPS) and record the host."""
        older = self._sessions.pop(session.vps_id, None)
        if older is not None:
            older.cut("a newer stream from the same agent replaced this one")
        host = handshake.host
        sanitised = [_text(name, 64) for name in host.sanitised_fields[:32]]
        if sanitised:
            log.warning(
                "vps %d: its agent escaped host facts that were not clean UTF-8 text: %s",
                session.vps_id,
                ", ".join(sanitised),
            )
        async with self._db.connection("stream registration") as conn:
            row = await (
                await conn.execute(
                    "WITH old AS (SELECT online FROM vps WHERE id = %(id)s FOR NO KEY UPDATE)"
                    " UPDATE vps SET hostname = %(hostname)s, os_name = %(os_name)s,"
                    " os_version = %(os_version)s, kernel_version = %(kernel)s, architecture = %(arch)s,"
                    " cpu_model = %(cpu_model)s, cpu_physical_cores = %(pcores)s,"
                    " cpu_logical_cores = %(lcores)s, memory_total_bytes = %(mem)s,"
                    " swap_total_bytes = %(swap)s, boot_time = to_timestamp(%(boot)s / 1000.0),"
                    " ip_addresses = %(ips)s, virtualization = %(virt)s, agent_version = %(version)s,"
                    " sanitised_fields = %(sanitised)s,"
                    " online = true, last_seen = now(), connected_collector = %(collector)s,"
                    " connected_at = now() FROM old WHERE vps.id = %(id)s"
                    f" RETURNING old.online, vps.agent_config, {_WATCHED}",
                    {
                        "id": session.vps_id,
                        "hostname": _text(host.hostname, 255),
                        "os_name": _text(host.os_name, 255),
                        "os_version": _text(host.os_version, 255),
                        "kernel": _text(host.kernel_version, 255),
                        "arch": _text(host.architecture, 64),
                        "cpu_model": _text(host.cpu_model, 255),
                        "pcores": min(host.cpu_physical_cores, 1 << 20),
                        "lcores": min(host.cpu_logical_cores, 1 << 20),
                        "mem": min(host.memory_total_bytes, 2**63 - 1),
                        "swap": min(host.swap_total_bytes, 2**63 - 1),
                        "boot": (
                            host.boot_time_unix_ms if 0 <= host.boot_time_unix_ms < YEAR_10000_MS else None
                        ),
                        "ips": [_text(ip, 64) for ip in host.ip_addresses[:64]],
                        "virt": _text(host.virtualization, 64),
                        "sanitised": sanitised,
                        "version": _text(handshake.agent_version, 64),
                        "collector": self._settings.collector_id,
                    },
                )
            ).fetchone()
            was_online, overrides, watched = (
                (bool(row[0]), row[1], bool(row[2])) if row else (True, {}, False)
            )
            # Sent at commit: a collector still holding an older stream of this agent
            # re-reads connected_collector (the truth) and cuts it.
            await conn.execute("SELECT pg_notify(%s, %s)", (SESSION_TAKEN_CHANNEL, str(session.vps_id)))
            if not was_online:
                await record_status_event(conn, self._live, session.vps_id, True, "agent connected")
        if not was_online:
            log.info("vps %d is online (agent connected)", session.vps_id)
        # Registered last, with no await before the caller queues the handshake ack: commands
        # and config pushed to the session must follow the ack, or the agent drops the stream.
        self._sessions[session.vps_id] = session
        self._unfinished.add(session.stream_id)
        metrics.AGENTS_CONNECTED.set(len(self._sessions))
        session.watched = watched
        session.config = effective_config(self._settings, overrides or {}, session.local_features, watched)
        return session.config

    def heard_from(self, session: AgentSession) -> None:
        session.heard_at = time.time()
        self._heard.add(session.vps_id)

    def clock_reported(self, session: AgentSession) -> None:
        """The session's clock estimate changed: export it now, record it at the next housekeeping."""
        session.clock.observe(session.vps_id)
        if session.clock.due_for_recording(time.monotonic()):
            self._clocks[session.vps_id] = session.clock

    def rejected(self, vps_id: int, detail: str) -> None:
        """A batch of ``vps_id`` was refused for good: count it, per VPS."""
        metrics.AGENT_REJECTED_BATCHES.labels(str(vps_id)).inc()
        tally = self._rejections.setdefault(vps_id, RejectionTally())
        tally.count += 1
        tally.last_detail = detail

    @property
    def stopping(self) -> bool:
        """Set by :meth:`release_all`: streams ending now were recorded in bulk."""
        return self._stopping

    async def release_all(self) -> list[str]:
        """At shutdown, once the server has stopped: every stream of this collector ends
        at once. Record them all in one statement while the pool is still open (each
        stream's own clean-up may run after it closes, and then skips the database);
        returns the ended streams' ids."""
        self._stopping = True
        # Not only the sessions still open: a stream whose clean-up the server's stop
        # cancelled part-way has left them but not finished it.
        ended = sorted(self._unfinished)
        self._unfinished.clear()
        self._sessions.clear()
        metrics.AGENTS_CONNECTED.set(0)
        try:
            async with self._db.connection("release streams at shutdown") as conn:
                # In id order, as collector.vps_locks has it.
                await conn.execute(
                    "WITH held AS (SELECT id FROM vps WHERE connected_collector = %(id)s ORDER BY id"
                    " FOR NO KEY UPDATE)"
                    " UPDATE vps SET connected_collector = NULL, last_seen = now() FROM held"
                    " WHERE vps.id = held.id AND vps.connected_collector = %(id)s",
                    {"id": self._settings.collector_id},
                )
        except Exception as exc:  # the database may be down; the offline check covers it
            log.warning("could not record the %d streams ended by shutdown: %s", len(ended), exc)
        return ended

    def stream_done(self, session: AgentSession) -> None:
        """The stream's clean-up (disconnect recorded, its commands ended) is complete."""
        self._unfinished.discard(session.stream_id)

    async def close(self, session: AgentSession) -> None:
        if self._sessions.get(session.vps_id) is not session:
            return
        del self._sessions[session.vps_id]
        metrics.AGENTS_CONNECTED.set(len(self._sessions))
        with contextlib.suppress(KeyError):  # never reported
            metrics.AGENT_CLOCK_OFFSET.remove(str(session.vps_id))
        try:
            async with self._db.connection("stream close") as conn:
                await conn.execute(
                    "UPDATE vps SET connected_collector = NULL, last_seen = now()"
                    " WHERE id = %s AND connected_collector = %s",
                    (session.vps_id, self._settings.collector_id),
                )
        except Exception as exc:  # the database may be down; the offline check covers it
            log.warning("could not record disconnect of vps %d: %s", session.vps_id, exc)

    async def load_config(self, session: AgentSession) -> tuple[agent_pb2.AgentConfig, bool]:
        """The VPS's effective config, and whether watch mode is in it."""
        async with self._db.connection("agent config") as conn:
            row = await (
                await conn.execute(
                    f"SELECT agent_config, {_WATCHED} FROM vps WHERE id = %s", (session.vps_id,)
                )
            ).fetchone()
        overrides, watched = (row[0] or {}, bool(row[1])) if row else ({}, False)
        return effective_config(self._settings, overrides, session.local_features, watched), watched

    def watched_sessions(self) -> list[AgentSession]:
        """Sessions in watch mode: their leases lapse without a notification."""
        return [s for s in self._sessions.values() if s.watched]

    async def push_config_if_changed(self, session: AgentSession) -> bool:
        """Re-read the VPS's config and send it only if it differs from what the agent has."""
        config, session.watched = await self.load_config(session)
        if config == session.config:
            return False
        session.config = config
        session.send(agent_pb2.MessageToAgent(agent_config=config))
        return True

    def recheck_soon(self, vps_id: int) -> None:
        """Re-read ``vps_id``'s row soon, with every other id hinted meanwhile, in one query.

        Each registration NOTIFYs its VPS id, and every collector hears it, this one too:
        a storm of 2,000 handshakes was 2,000 one-row re-reads, one after the other, on
        the pool the handshakes need. Only ids this collector holds cost a query at all.
        """
        if vps_id not in self._sessions:
            return  # nothing here to cut; a stream registered later authenticated afresh
        self._recheck_ids.add(vps_id)
        if self._rechecker is None or self._rechecker.done():
            self._rechecker = asyncio.create_task(self._recheck_hinted(), name="session-recheck")

    async def _recheck_hinted(self) -> None:
        await asyncio.sleep(HINT_GATHER_S)  # a storm's hints arrive within milliseconds
        while self._recheck_ids:
            ids, self._recheck_ids = sorted(self._recheck_ids), set()
            try:
                await self.recheck_tokens(ids)
            except Exception as exc:  # the 5 s safety-net poll re-reads every held stream
                level = logging.DEBUG if is_connection_failure(exc) else logging.WARNING
                log.log(level, "re-reading %d hinted VPS row(s) failed: %s", len(ids), str(exc).strip())

    async def stop_rechecks(self) -> None:
        """Cancel a hinted re-read still waiting or running (the collector is stopping)."""
        if self._rechecker is not None:
            self._rechecker.cancel()
            await asyncio.gather(self._rechecker, return_exceptions=True)

    async def recheck_tokens(self, vps_ids: list[int]) -> int:
        """Cut held streams whose VPS is gone, whose token no longer matches, or whose agent
        another collector now holds; return how many.

        The truth is the vps row, not whatever told us to look: a forged hint finds the
        stored hash and connected_collector unchanged and cuts nothing.
        """
        held = [s for v in vps_ids if (s := self._sessions.get(v)) is not None]
        if not held:
            return 0
        async with self._db.connection("token check") as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, agent_token_hash, connected_collector FROM vps WHERE id = ANY(%s)",
                    ([s.vps_id for s in held],),
                )
            ).fetchall()
        stored = {row[0]: row[1] for row in rows}
        holder = {row[0]: row[2] for row in rows}
        cut = 0
        for session in held:
            if self._sessions.get(session.vps_id) is not session:
                continue  # replaced meanwhile by a stream that authenticated afresh
            if session.vps_id not in stored:
                log.info("vps %d was removed; closing its stream", session.vps_id)
                session.cut(VPS_REMOVED, grpc.StatusCode.NOT_FOUND)
                cut += 1
            elif stored[session.vps_id] != session.token_hash:
                log.info("vps %d: agent token rotated; closing its stream", session.vps_id)
                session.cut(TOKEN_ROTATED, grpc.StatusCode.ABORTED)
                cut += 1
            elif holder[session.vps_id] not in (None, self._settings.collector_id):
                log.info(
                    "vps %d: collector %s took over its stream; closing ours",
                    session.vps_id,
                    holder[session.vps_id],
                )
                session.cut(TAKEN_OVER, grpc.StatusCode.ABORTED)
                cut += 1
        return cut

    async def housekeeping_once(self) -> None:
        """Write last_seen for agents heard from, then mark silent ones offline fleet-wide."""
        heard, self._heard = self._heard, set()
        now = time.time()
        for session in self.all():
            # A peer that vanished without closing its TCP connection keeps a stream
            # open until keepalive gives up; silence ends it sooner, and its commands,
            # even if its handler is still stuck writing to the dead peer.
            if now - session.heard_at > self._settings.offline_after_s:
                session.cut(f"nothing heard for {self._settings.offline_after_s:.0f} s")
                await self.close(session)
                if self.on_stream_gone is not None:
                    await self.on_stream_gone(session.vps_id, session.stream_id)
        async with self._db.connection("housekeeping") as conn:
            # Liveness for alert rules: up_since restarts at start and after a stopped heartbeat.
            await conn.execute(
                "INSERT INTO collector_instances AS c (collector_id) VALUES (%(id)s)"
                " ON CONFLICT (collector_id) DO UPDATE SET heartbeat_at = now(),"
                " up_since = CASE WHEN %(fresh_start)s OR c.heartbeat_at < now() - make_interval(secs => %(gap)s)"
                " THEN now() ELSE c.up_since END",
                {
                    "id": self._settings.collector_id,
                    "fresh_start": not self._announced,
                    "gap": _HEARTBEAT_GAP_S,
                },
            )
            self._announced = True
            if heard:
                came_back = await (
                    await conn.execute(
                        # Locked in id order, as collector.vps_locks has it; the row as locked.
                        "WITH old AS (SELECT id, online FROM vps WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE)"
                        " UPDATE vps SET last_seen = now(), online = true FROM old"
                        " WHERE vps.id = old.id RETURNING vps.id, old.online",
                        (sorted(heard),),
                    )
                ).fetchall()
                for vps_id, was_online in came_back:
                    if not was_online:
                        await record_status_event(conn, self._live, vps_id, True, "agent heard from again")
                        log.info("vps %d is online again", vps_id)
            # Any collector may sweep: a row another holds is skipped (it is being
            # seen, or swept by that one), so this never waits in lock order's way.
            gone = await (
                await conn.execute(
                    "WITH stale AS (SELECT id FROM vps"
                    " WHERE online AND last_seen < now() - make_interval(secs => %s)"
                    " ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)"
                    " UPDATE vps SET online = false FROM stale WHERE vps.id = stale.id"
                    " RETURNING vps.id, vps.last_seen",
                    (self._settings.offline_after_s,),
                )
            ).fetchall()
            if gone:
                # Offline wherever its stream was held (a collector may have died with it):
                # nothing in flight can answer any more.
                await fail_in_flight_where(conn, "vps_id = ANY(%s)", ([vps_id for vps_id, _ in gone],))
            for vps_id, last_seen in gone:
                reason = f"no heartbeat for {self._settings.offline_after_s:.0f} s (last seen {last_seen:%H:%M:%S})"
                await record_status_event(conn, self._live, vps_id, False, reason)
                log.warning("vps %d is offline: %s", vps_id, reason)

        await self._record_health()

    async def _record_health(self) -> None:
        """Clock estimates and refused-batch counts. A failure here never blocks the offline check."""
        clocks, self._clocks = self._clocks, {}
        rejections, self._rejections = self._rejections, {}
        if not clocks and not rejections:
            return
        try:
            async with self._db.connection("agent health") as conn:
                await record_agent_health(conn, clocks, rejections)
        except Exception as exc:
            # Tallies are kept for the next round; clocks come again with the next heartbeats.
            for clock in clocks.values():
                clock.recorded_offset_ms = None
            for vps_id, tally in rejections.items():
                merged = self._rejections.setdefault(vps_id, RejectionTally())
                merged.count += tally.count
                merged.last_detail = merged.last_detail or tally.last_detail
            level = logging.DEBUG if is_connection_failure(exc) else logging.WARNING
            log.log(
                level, "could not record agent clocks and refused batches (will retry): %s", str(exc).strip()
            )

    async def run_housekeeping(self, interval_s: float) -> None:
        # The first round at once: its heartbeat (collector_instances) is what tells the
        # alerts that a collector is running; a collector restarted before its first
        # interval was up had written none, and "no collector is running" paged.
        while True:
            try:
                await self.housekeeping_once()
            except Exception as exc:
                # An outage is logged once by collector/database.py, not every round.
                level = logging.DEBUG if is_connection_failure(exc) else logging.WARNING
                log.log(level, "session housekeeping failed (will retry): %s", str(exc).strip())
            await asyncio.sleep(interval_s)
