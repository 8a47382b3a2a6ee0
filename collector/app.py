"""Wire the collector's parts together and run them until stopped."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import grpc
from psycopg import AsyncConnection
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from collector.agent_state import AgentStateWriter
from collector.auth import AgentAuthenticator
from collector.commands import CommandRelay
from collector.connection_cap import ConnectionCap
from collector.database import Database
from collector.ingest import IngestWriter
from collector.listener import NotificationListener
from collector.maintenance import Maintenance
from collector.server import build_server
from collector.service import AgentStreamService, new_handshake_slots
from collector.sessions import SessionRegistry
from common.channels import (
    AGENT_CONFIG_CHANNEL,
    COMMANDS_CHANNEL,
    SESSION_TAKEN_CHANNEL,
    TOKEN_ROTATED_CHANNEL,
)
from common.db_limits import connect_kwargs
from common.settings import CollectorSettings

__all__ = ["CollectorApp"]

log = logging.getLogger("tidewatch.collector")

DEFAULT_RAW_RETENTION_S = 7 * 86_400.0
SAFETY_NET_DISPATCH_S = 5.0
AGENT_STATE_FLUSH_S = 2.0
# How often agents in watch mode are re-read: a watch ends by its lease lapsing, unannounced.
WATCH_RECHECK_S = 2.0


class CollectorApp:
    def __init__(self, settings: CollectorSettings, dsn: str) -> None:
        self.settings = settings
        self._dsn = dsn
        self.db = Database(settings, dsn)
        self.pool: AsyncConnectionPool[AsyncConnection[Any]] = self.db.pool
        self.registry = SessionRegistry(self.db, settings)
        self.writer = IngestWriter(
            self.db,
            flush_max_rows=settings.flush_max_rows,
            flush_interval_ms=settings.flush_interval_ms,
            queue_max_rows=settings.queue_max_rows,
            late_window=timedelta(seconds=settings.rollup_late_window_s),
        )
        self.commands = CommandRelay(self.db, self.registry, settings.collector_id)
        self.agent_state = AgentStateWriter(self.db)
        self.registry.on_stream_gone = self.commands.fail_in_flight
        self.maintenance = Maintenance(self.pool, timedelta(seconds=settings.rollup_late_window_s))
        self._tasks: list[asyncio.Task[None]] = []
        self._server: grpc.aio.Server | None = None
        self.service: AgentStreamService | None = None
        self.auth: AgentAuthenticator | None = None
        self.port = 0

    async def _raw_retention_s(self) -> float:
        try:
            async with self.db.connection("retention settings") as conn:
                row = await (
                    await conn.execute(
                        "SELECT extract(epoch FROM keep) FROM retention_settings WHERE relation = 'host_metrics'"
                    )
                ).fetchone()
            return float(row[0]) if row else DEFAULT_RAW_RETENTION_S
        except Exception as exc:
            log.warning(
                "database not reachable at start (%s); will keep retrying in the background",
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
            return DEFAULT_RAW_RETENTION_S

    async def start(self) -> int:
        await self.pool.open(wait=False)
        handshake_slots = new_handshake_slots(self.settings)
        self.auth = AgentAuthenticator(self.db, handshake_slots)
        self.service = service = AgentStreamService(
            self.settings,
            self.auth,
            self.registry,
            self.writer,
            self.commands,
            agent_state=self.agent_state,
            raw_retention_s=await self._raw_retention_s(),
            handshake_slots=handshake_slots,
        )
        self._server, self.port = build_server(self.settings, service)
        self.connection_cap = ConnectionCap(
            self.port, self.settings.unauthenticated_connections_per_ip, service.established_peers.keys
        )
        self.writer.start()
        listener = NotificationListener(
            make_conninfo(self._dsn, **connect_kwargs(self._dsn, self.settings.db_connect_timeout_s)),
            {
                COMMANDS_CHANNEL: self._on_command_notify,
                TOKEN_ROTATED_CHANNEL: self._on_token_rotated,
                SESSION_TAKEN_CHANNEL: self._on_token_rotated,  # the same re-read of the vps row
                AGENT_CONFIG_CHANNEL: self._on_agent_config,
            },
            on_reconnect=self._catch_up,
        )
        self._tasks = [
            asyncio.create_task(listener.run(), name="listener"),
            asyncio.create_task(
                self.registry.run_housekeeping(min(5.0, self.settings.offline_after_s / 3)),
                name="housekeeping",
            ),
            asyncio.create_task(
                self.maintenance.run(self.settings.maintenance_interval_s), name="maintenance"
            ),
            asyncio.create_task(self._dispatch_safety_net(), name="dispatch-safety-net"),
            asyncio.create_task(self._flush_agent_state(), name="agent-state"),
            asyncio.create_task(self._end_lapsed_watches(), name="watch-recheck"),
            asyncio.create_task(self.connection_cap.run(), name="connection-cap"),
        ]
        await self._server.start()
        log.info(
            "collector %s listening on %s (port %d)",
            self.settings.collector_id,
            self.settings.listen,
            self.port,
        )
        return self.port

    async def stop(self, grace_s: float = 5.0) -> None:
        """Flush what agents already sent (their acks go out), then close streams."""
        log.info("collector stopping: draining in-flight batches (up to %.0f s)", grace_s)
        await self.writer.close(grace_s)
        await asyncio.sleep(0.1)  # let the last acks reach the wire
        if self._server is not None:
            await self._server.stop(1.0)
        # Every stream is over: record that in bulk while the pool is open (at 5,000
        # agents, one statement instead of 10,000 racing the pool's close).
        ended = await self.registry.release_all()
        try:
            await self.commands.fail_in_flight_on(ended)
        except Exception as exc:  # their agents' next streams fail them instead
            log.warning("in-flight commands of %d ended streams not ended yet: %s", len(ended), exc)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.registry.stop_rechecks()
        if self.auth is not None:
            # Its digest writer uses the pool: let it finish first, or it outlives the collector.
            await self.auth.digests_written()
        await self.pool.close()
        log.info("collector stopped")

    async def _catch_up(self) -> None:
        """Do what NOTIFYs missed while the listener was (re)connecting would have done."""
        await self.commands.dispatch_pending()
        await self.registry.recheck_tokens(self.registry.held_vps_ids())
        for session in self.registry.all():
            if not session.cut_event.is_set():
                await self.registry.push_config_if_changed(session)

    async def _dispatch_safety_net(self) -> None:
        # NOTIFYs sent while the listener was reconnecting are lost; poll as well.
        while True:
            await asyncio.sleep(SAFETY_NET_DISPATCH_S)
            try:
                await self.commands.expire_queued()
                await self.commands.dispatch_pending()
                await self.registry.recheck_tokens(self.registry.held_vps_ids())
            except Exception as exc:
                log.debug("command dispatch / token poll failed: %s", exc)

    # Each handler takes its payload as a hint and re-reads the truth: any role may NOTIFY.

    async def _flush_agent_state(self) -> None:
        while True:
            await asyncio.sleep(AGENT_STATE_FLUSH_S)
            try:
                await self.agent_state.flush()
            except Exception as exc:
                log.debug("agent counters not written (will retry): %s", exc)

    async def _end_lapsed_watches(self) -> None:
        while True:
            await asyncio.sleep(WATCH_RECHECK_S)
            for session in self.registry.watched_sessions():
                if session.cut_event.is_set():
                    continue
                try:
                    if await self.registry.push_config_if_changed(session):
                        log.info("vps %d: watch mode over, agent back to its batching", session.vps_id)
                except Exception as exc:
                    log.debug("watch recheck of vps %d failed (will retry): %s", session.vps_id, exc)

    async def _on_command_notify(self, payload: str) -> None:
        if payload.isdigit():
            await self.commands.dispatch_pending([int(payload)])  # only rows really pending

    async def _on_token_rotated(self, payload: str) -> None:
        if payload.isdigit():
            self.registry.recheck_soon(int(payload))  # batched: a reconnect storm sends thousands

    async def _on_agent_config(self, payload: str) -> None:
        vps_ids = [int(payload)] if payload.isdigit() else []
        if payload == "*":
            vps_ids = self.registry.held_vps_ids()
        for vps_id in vps_ids:
            if (
                session := self.registry.get(vps_id)
            ) is not None and await self.registry.push_config_if_changed(session):
                assert session.config is not None
                log.info(
                    "vps %d: pushed agent config %s",
                    vps_id,
                    json.dumps(
                        {
                            "snapshot_interval_ms": session.config.snapshot_interval_ms,
                            "batch_max_snapshots": session.config.batch_max_snapshots,
                            "watched": session.watched,
                        }
                    ),
                )
