"""Docker containers and their resource use (``DockerInfoBatch``), through the Docker SDK.

Per sample:

- one list call for every container, running or stopped;
- ``inspect`` only for containers that are new, or whose status text shows
  they started, stopped or restarted since the last sample (see
  ``docker_status``). Restart count, exit code, OOM kill, exact times and the
  init PID live only there; ``containers.list(sparse=False)`` would inspect
  every container every time;
- each running container's stats read from its cgroup files (``cgroups``):
  microseconds per container, no engine call. Containers whose files cannot be
  read (no host ``/sys/fs/cgroup``, another cgroup layout, ``stats_source="api"``)
  get one-shot stats calls instead, concurrently; the engine answers those on
  its next one-second stats tick, so such a sample takes a second or more.

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
from pathlib import Path
from typing import Any, Literal

import docker
from docker.errors import DockerException, NotFound

from agent.collectors.cgroups import CgroupStatsReader
from agent.collectors.docker_parse import (
    Json,
    StatsReading,
    container_cpu_percent,
    describe_container,
    stats_reading,
)
from agent.collectors.docker_status import needs_inspect
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
        stats_source: Literal["cgroup", "api"] = "cgroup",
        cgroup_root: str | Path = "/sys/fs/cgroup",
        proc_root: str | Path = "/proc",
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
        # Last inspect result, and (state, status) as last listed, by container id.
        self._details: dict[str, Json] = {}
        self._listed: dict[str, tuple[str, str]] = {}
        self._listed_at = -math.inf
        self._cgroups: CgroupStatsReader | None = None
        self._fallback_logged = False
        # Where the last sample's stats came from, for tests and benchmarks.
        self.last_stats_from_cgroups = 0
        self.last_stats_from_engine = 0
        if stats_source == "cgroup":
            reader = CgroupStatsReader(cgroup_root=cgroup_root, proc_root=proc_root, clock=clock)
            if reader.usable:
                self._cgroups = reader
            else:
                log.info(
                    "no cgroup hierarchy at %s; container stats come from the engine's stats API "
                    "(about a second per sample, more with many containers)",
                    cgroup_root,
                )

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
        self._listed.clear()
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
        now = self._monotonic()
        elapsed_s, self._listed_at = now - self._listed_at, now
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="docker-stats")
        listed = {str(s["Id"]): (str(s.get("State", "")), str(s.get("Status", ""))) for s in summaries}
        inspects: dict[str, Future[Json]] = {}
        for cid, (state, status) in listed.items():
            seen = self._listed.get(cid)
            if cid not in self._details or seen is None or needs_inspect(*seen, state, status, elapsed_s):
                inspects[cid] = self._pool.submit(api.inspect_container, cid)
        for cid, future in inspects.items():
            self._take_inspect(cid, future)
        self._listed = listed
        self._details = {cid: d for cid, d in self._details.items() if cid in listed}

        running = [cid for cid, (state, _) in listed.items() if state == "running"]
        readings = self._cgroup_readings(running)
        api_stats = {
            cid: self._pool.submit(api.stats, cid, stream=False, one_shot=True)
            for cid in running
            if cid not in readings
        }
        self.last_stats_from_cgroups = len(readings)
        for cid, future in api_stats.items():
            reading = self._reading(cid, future)
            if reading is not None:
                readings[cid] = reading
        self.last_stats_from_engine = len(readings) - self.last_stats_from_cgroups

        containers: list[agent_pb2.DockerContainerInfo] = []
        for summary in summaries:
            cid = str(summary["Id"])
            info = describe_container(summary, self._details.get(cid))
            reading = readings.get(cid)
            if reading is not None:
                self._add_stats(info, self._previous.get(cid), reading)
            containers.append(info)
        self._previous = readings
        return containers

    def _take_inspect(self, cid: str, future: Future[Json]) -> None:
        try:
            self._details[cid] = future.result()
        except NotFound:
            self._details.pop(cid, None)  # removed since the list call
        except _ENGINE_ERRORS as exc:
            log.debug("inspect %s failed: %s", cid[:12], exc)

    def _cgroup_readings(self, running: list[str]) -> dict[str, StatsReading]:
        readings: dict[str, StatsReading] = {}
        reader = self._cgroups
        if reader is None:
            return readings
        reader.begin_sample()
        for cid in running:
            details = self._details.get(cid) or {}
            host_config = details.get("HostConfig") or {}
            reading = reader.read(
                cid,
                int((details.get("State") or {}).get("Pid") or 0),
                cgroup_parent=str(host_config.get("CgroupParent") or ""),
                # A host-network container's namespace is the host's: the engine reports none.
                with_network=host_config.get("NetworkMode") != "host",
            )
            if reading is not None:
                readings[cid] = reading
        reader.forget_others(running)
        if reader.stale_pids:
            # Its init process is gone, so it restarted unseen: inspect it next time.
            for cid in reader.stale_pids:
                self._details.pop(cid, None)
            reader.stale_pids.clear()
        missing = len(running) - len(readings)
        if missing and not self._fallback_logged:
            self._fallback_logged = True
            log.info(
                "cgroup files of %d of %d running containers could not be read under %s; "
                "asking the engine for their stats instead (logged once)",
                missing,
                len(running),
                reader.cgroup_root,
            )
        return readings

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
