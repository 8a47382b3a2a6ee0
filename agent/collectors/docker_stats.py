"""Docker containers and their resource use (``DockerInfoBatch``), through the Docker SDK.

Per sample:

- one list call for every container, running or stopped;
- ``inspect`` only for containers that are new, whose state or status text
  changed since the last sample, or whose status still counts seconds (a quick
  restart leaves "Up 2 seconds" unchanged). Restart count, exit code, OOM kill
  and exact times live only there; ``containers.list(sparse=False)`` would
  inspect every container every time;
- one-shot stats for each running container, concurrently. The engine answers
  a one-shot request on its next one-second stats tick, so a sample takes
  about a second of wall time but little CPU.

CPU % needs two of our own readings (one-shot stats carry no previous one), so
a container's ``has_stats`` is True from its second reading on: every stat
in the message is then real, none is a placeholder zero.

When the engine is absent or its socket is denied, the batch says
``docker_available=False`` with the reason; that is logged once per outage,
and reconnecting is retried quietly every ``retry_interval_s``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import docker
from docker.errors import DockerException, NotFound

from agent.collectors.docker_parse import (
    Json,
    StatsReading,
    container_cpu_percent,
    describe_container,
    stats_reading,
)
from proto import agent_pb2

__all__ = ["DockerCollector"]

log = logging.getLogger(__name__)

# requests' errors derive from OSError, so these cover a lost or refused socket.
_ENGINE_ERRORS = (DockerException, OSError)


class DockerCollector:
    """Samples the Docker engine at ``base_url`` (default: ``DOCKER_HOST`` or the local socket)."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        max_workers: int = 8,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
        retry_interval_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url
        self._max_workers = max(1, max_workers)
        self._clock = clock
        self._timeout_s = timeout_s
        self._retry_interval_s = retry_interval_s
        self._monotonic = monotonic
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._next_connect_at = -math.inf
        self._error = ""
        self._outage_logged = False
        self._previous: dict[str, StatsReading] = {}
        self._details: dict[str, tuple[tuple[str, str], Json]] = {}

    def sample(self) -> agent_pb2.DockerInfoBatch:
        """Every container now; ``docker_available=False`` with ``docker_error`` if the engine is unreachable."""
        batch = agent_pb2.DockerInfoBatch(timestamp_unix_ms=int(self._clock() * 1000))
        client = self._connected_client()
        if client is not None:
            try:
                batch.containers.extend(self._collect(client))
            except _ENGINE_ERRORS as exc:
                self._lost(exc)
            else:
                batch.docker_available = True
                return batch
        batch.docker_available = False
        batch.docker_error = self._error
        return batch

    def close(self) -> None:
        """Close the engine connection and the stats threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._drop_client()

    # ------------------------------------------------------------ connection

    def _connected_client(self) -> Any:
        if self._client is not None:
            return self._client
        if self._monotonic() < self._next_connect_at:
            return None
        pool_size = max(self._max_workers, 10)
        try:
            # The SDK asks the engine for its API version here, so this is the connection test.
            if self._base_url:
                client = docker.DockerClient(
                    base_url=self._base_url, timeout=self._timeout_s, max_pool_size=pool_size
                )
            else:
                client = docker.DockerClient.from_env(timeout=self._timeout_s, max_pool_size=pool_size)
        except _ENGINE_ERRORS as exc:
            self._lost(exc)
            return None
        if client.api.base_url.startswith("http+docker://"):
            # A local socket never goes through a proxy; skip requests' per-call
            # scan of proxy variables and ~/.netrc.
            client.api.trust_env = False
        if self._outage_logged:
            log.info("Docker engine reachable again")
        self._client, self._error, self._outage_logged = client, "", False
        return client

    def _lost(self, exc: BaseException) -> None:
        self._error = (str(exc) or type(exc).__name__)[:500]
        self._next_connect_at = self._monotonic() + self._retry_interval_s
        self._drop_client()
        self._previous.clear()
        self._details.clear()
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "Docker unavailable (%s); reporting docker_available=false and retrying every %.0f s",
                self._error,
                self._retry_interval_s,
            )
        else:
            log.debug("Docker still unavailable: %s", self._error)

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log.debug("closing the Docker client failed", exc_info=True)

    # ------------------------------------------------------------ collection

    def _collect(self, client: Any) -> list[agent_pb2.DockerContainerInfo]:
        api = client.api
        summaries: list[Json] = api.containers(all=True)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="docker-stats")
        inspects: dict[str, Future[Json]] = {}
        stats: dict[str, Future[Json]] = {}
        for summary in summaries:
            cid = str(summary["Id"])
            key = (str(summary.get("State", "")), str(summary.get("Status", "")))
            cached = self._details.get(cid)
            # "Up 3 seconds" both before and after a quick restart: while the status
            # counts seconds the text proves nothing, so look again.
            if cached is None or cached[0] != key or "second" in key[1]:
                inspects[cid] = self._pool.submit(api.inspect_container, cid)
            if key[0] == "running":
                stats[cid] = self._pool.submit(api.stats, cid, stream=False, one_shot=True)

        containers: list[agent_pb2.DockerContainerInfo] = []
        readings: dict[str, StatsReading] = {}
        for summary in summaries:
            cid = str(summary["Id"])
            key = (str(summary.get("State", "")), str(summary.get("Status", "")))
            details = self._details_for(cid, key, inspects.get(cid))
            info = describe_container(summary, details)
            future = stats.get(cid)
            if future is not None:
                reading = self._reading(cid, future)
                if reading is not None:
                    readings[cid] = reading
                    self._add_stats(info, self._previous.get(cid), reading)
            containers.append(info)
        self._previous = readings
        live = {c.container_id for c in containers}
        self._details = {cid: v for cid, v in self._details.items() if cid in live}
        return containers

    def _details_for(self, cid: str, key: tuple[str, str], future: Future[Json] | None) -> Json | None:
        if future is None:
            return self._details[cid][1]
        try:
            details = future.result()
        except NotFound:
            return None  # removed since the list call
        except _ENGINE_ERRORS as exc:
            log.debug("inspect %s failed: %s", cid[:12], exc)
            cached = self._details.get(cid)
            return cached[1] if cached else None
        self._details[cid] = (key, details)
        return details

    @staticmethod
    def _reading(cid: str, future: Future[Json]) -> StatsReading | None:
        try:
            body = future.result()
        except _ENGINE_ERRORS as exc:
            # Stopped or removed since the list call; it has no stats this time.
            log.debug("stats for %s failed: %s", cid[:12], exc)
            return None
        reading = stats_reading(body)
        return reading if reading.read_ms else None

    @staticmethod
    def _add_stats(
        info: agent_pb2.DockerContainerInfo, previous: StatsReading | None, current: StatsReading
    ) -> None:
        if previous is None:
            return  # first reading: no CPU % yet, so no stats at all (see module docstring)
        cpu = container_cpu_percent(previous, current)
        if cpu is None:
            return
        info.has_stats = True
        info.cpu_percent = cpu
        info.memory_usage_bytes = current.memory_used_bytes
        info.memory_limit_bytes = current.memory_limit_bytes
        info.network_rx_bytes = current.network_rx_bytes
        info.network_tx_bytes = current.network_tx_bytes
        info.block_read_bytes = current.block_read_bytes
        info.block_write_bytes = current.block_write_bytes
        info.pids = current.pids
