"""Container resource use read straight from the kernel's cgroup files.

A one-shot stats call makes the engine read these same files, but it answers
only on its next one-second stats tick and costs an HTTP round trip and a JSON
body per container. Reading them ourselves takes microseconds per container.

- **cgroup v2** (one hierarchy, ``cgroup.controllers`` at the root):
  ``cpu.stat`` (usage_usec), ``memory.current``, ``memory.max``, ``memory.stat``
  (inactive_file), ``io.stat``, ``pids.current``.
- **cgroup v1** (one hierarchy per controller): ``cpuacct.usage``,
  ``memory.usage_in_bytes``, ``memory.limit_in_bytes``, ``memory.stat``
  (total_inactive_file), ``blkio.[throttle.]io_service_bytes_recursive``,
  ``pids.current``.
- **Network** has no cgroup counters: ``/proc/<init pid>/net/dev`` shows the
  container's network namespace (not for ``--network host``, whose counters
  are the host's).

A container's cgroup comes from ``/proc/<init pid>/cgroup`` (any driver, any
``--cgroup-parent``), or, when that is not visible or not usable (another PID
namespace, a cgroup namespace), from the paths the cgroupfs and systemd
drivers use. The path must contain the container's full id, so a reused PID
never points at someone else's cgroup. ``read`` returns None when the files
cannot be read; the caller then asks the engine instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from agent.collectors.cgroup_parse import (
    host_cpu_ns,
    parse_flat_keyed,
    parse_limit_bytes,
    parse_net_dev,
    parse_proc_cgroup,
    parse_v1_blkio_bytes,
    parse_v2_io_bytes,
)
from agent.collectors.docker_parse import StatsReading

__all__ = ["CgroupStatsReader", "cgroup_candidates", "detect_cgroup_version"]

_V1_CONTROLLERS = ("cpuacct", "memory", "blkio", "pids")
_V1_BLKIO_FILES = ("blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive")


def detect_cgroup_version(root: Path) -> int | None:
    """2 for a unified hierarchy at ``root``, 1 for per-controller ones, None when neither is there."""
    if (root / "cgroup.controllers").is_file():
        return 2
    if (root / "cpuacct").is_dir() and (root / "memory").is_dir():
        return 1
    return None


def _systemd_slice_path(slice_name: str) -> str:
    # systemd nests slices by their dashes: a-b.slice lives in a.slice/a-b.slice.
    stem = slice_name.removesuffix(".slice")
    parts = stem.split("-")
    return "/" + "/".join("-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def cgroup_candidates(container_id: str, cgroup_parent: str = "") -> list[str]:
    """Where the cgroupfs and systemd drivers put a container's cgroup, relative to a hierarchy root."""
    candidates = []
    parent = cgroup_parent.strip("/")
    if parent.endswith(".slice"):
        candidates.append(f"{_systemd_slice_path(parent)}/docker-{container_id}.scope")
    elif parent:
        candidates.append(f"/{parent}/{container_id}")
    candidates += [f"/docker/{container_id}", f"/system.slice/docker-{container_id}.scope"]
    return candidates


def _read(path: str) -> str | None:
    # os.read is about twice as fast as open().read() on these small kernel files,
    # which adds up at ten files per container per sample.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")


class CgroupStatsReader:
    """Reads running containers' stats from ``cgroup_root`` (and network counters from ``proc_root``)."""

    def __init__(
        self,
        *,
        cgroup_root: str | Path = "/sys/fs/cgroup",
        proc_root: str | Path = "/proc",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cgroup_root = Path(cgroup_root)
        self.proc_root = Path(proc_root)
        self.version = detect_cgroup_version(self.cgroup_root)
        self._clock = clock
        self.host_memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        # container id -> (init pid, controller -> cgroup directory); "" is the v2 directory.
        self._paths: dict[str, tuple[int, dict[str, str]]] = {}
        self._system_cpu_ns = 0
        self._online_cpus = 1
        self._read_ms = 0
        # container id -> the init PID last seen in its cgroup
        self._verified_pids: dict[str, int] = {}
        self.stale_pids: set[str] = set()
        """Containers whose init PID is no longer theirs: restarted since their last inspect."""

    @property
    def usable(self) -> bool:
        """Whether a cgroup hierarchy was found at ``cgroup_root``."""
        return self.version is not None

    def begin_sample(self) -> None:
        """Read the host's CPU time once per sample, for every container's CPU %."""
        text = _read(str(self.proc_root / "stat")) or ""
        self._system_cpu_ns, self._online_cpus = host_cpu_ns(text)
        self._read_ms = int(self._clock() * 1000)

    def forget_others(self, live_ids: Iterable[str]) -> None:
        """Drop cached paths of containers that are gone."""
        live = set(live_ids)
        self._paths = {cid: v for cid, v in self._paths.items() if cid in live}
        self._verified_pids = {cid: v for cid, v in self._verified_pids.items() if cid in live}

    def read(
        self, container_id: str, pid: int, *, cgroup_parent: str = "", with_network: bool = True
    ) -> StatsReading | None:
        """The container's stats now, or None when its cgroup files cannot be read."""
        if self.version is None:
            return None
        cached = self._paths.get(container_id)
        if cached is not None and cached[0] == pid:
            paths = cached[1]
        else:
            found = self._resolve(container_id, pid, cgroup_parent)
            if found is None:
                return None
            paths = found
            self._paths[container_id] = (pid, paths)
        reading = self._read_v2(paths[""]) if self.version == 2 else self._read_v1(paths)
        if reading is None:
            self._paths.pop(container_id, None)  # removed or recreated: resolve again next time
            return None
        cpu_ns, used, limit, block_read, block_write, pids = reading
        rx = tx = 0
        if pid > 0 and self._pid_is_theirs(container_id, pid) and with_network:
            net = _read(f"{self.proc_root}/{pid}/net/dev")
            if net is not None:
                rx, tx = parse_net_dev(net)
        return StatsReading(
            cpu_total_ns=cpu_ns,
            system_cpu_ns=self._system_cpu_ns,
            online_cpus=self._online_cpus,
            read_ms=self._read_ms or int(self._clock() * 1000),
            memory_used_bytes=used,
            # As the engine reports it: the host's memory when the cgroup has no lower limit.
            memory_limit_bytes=min(limit or self.host_memory_bytes, self.host_memory_bytes),
            network_rx_bytes=rx,
            network_tx_bytes=tx,
            block_read_bytes=block_read,
            block_write_bytes=block_write,
            pids=pids,
        )

    def _pid_is_theirs(self, container_id: str, pid: int) -> bool:
        # Checked every sample: after an unseen restart the PID may belong to anyone,
        # and its network namespace with it.
        text = _read(f"{self.proc_root}/{pid}/cgroup")
        if text is not None and container_id in text:
            self._verified_pids[container_id] = pid
            return True
        # It was theirs and is not any more: the container restarted since its inspect.
        # A PID never seen as theirs (another PID namespace) is just not usable.
        if self._verified_pids.pop(container_id, None) == pid:
            self.stale_pids.add(container_id)
        return False

    # ------------------------------------------------------------ paths

    def _hierarchy(self, controller: str) -> Path:
        return self.cgroup_root if controller == "" else self.cgroup_root / controller

    def _resolve(self, container_id: str, pid: int, cgroup_parent: str) -> dict[str, str] | None:
        controllers = ("",) if self.version == 2 else _V1_CONTROLLERS
        from_pid: dict[str, str] = {}
        if pid > 0:
            text = _read(f"{self.proc_root}/{pid}/cgroup")
            if text is not None:
                parsed = parse_proc_cgroup(text)
                from_pid = {"": parsed.unified} if self.version == 2 and parsed.unified else parsed.v1
        fallback = next(
            (
                rel
                for rel in cgroup_candidates(container_id, cgroup_parent)
                if (self._hierarchy(controllers[0]) / rel.lstrip("/")).is_dir()
            ),
            None,
        )
        paths: dict[str, str] = {}
        for controller in controllers:
            rel = from_pid.get(controller)
            # A path outside our cgroup namespace shows as "/../..": unusable here.
            if rel is None or container_id not in rel or "/.." in rel:
                rel = fallback
            if rel is None:
                if controller in ("", "cpuacct", "memory"):
                    return None
                continue
            directory = self._hierarchy(controller) / rel.lstrip("/")
            if directory.is_dir():
                paths[controller] = str(directory)
            elif controller in ("", "cpuacct", "memory"):
                return None
        return paths

    # ------------------------------------------------------------ files

    @staticmethod
    def _read_v1(paths: dict[str, str]) -> tuple[int, int, int, int, int, int] | None:
        cpu = _read(paths["cpuacct"] + "/cpuacct.usage")
        usage = _read(paths["memory"] + "/memory.usage_in_bytes")
        stat = _read(paths["memory"] + "/memory.stat")
        if cpu is None or usage is None or stat is None:
            return None
        limit = parse_limit_bytes(_read(paths["memory"] + "/memory.limit_in_bytes") or "")
        used = int(usage)
        inactive = parse_flat_keyed(stat).get("total_inactive_file", 0)
        block_read = block_write = 0
        if "blkio" in paths:
            for name in _V1_BLKIO_FILES:
                text = _read(f"{paths['blkio']}/{name}")
                if text and text.strip() != "Total 0":
                    block_read, block_write = parse_v1_blkio_bytes(text)
                    break
        pids = _read(paths["pids"] + "/pids.current") if "pids" in paths else None
        return (
            int(cpu),
            used - inactive if 0 <= inactive < used else used,
            limit or 0,
            block_read,
            block_write,
            int(pids) if pids else 0,
        )

    @staticmethod
    def _read_v2(directory: str) -> tuple[int, int, int, int, int, int] | None:
        cpu = _read(directory + "/cpu.stat")
        current = _read(directory + "/memory.current")
        stat = _read(directory + "/memory.stat")
        if cpu is None or current is None or stat is None:
            return None
        used = int(current)
        inactive = parse_flat_keyed(stat).get("inactive_file", 0)
        limit = parse_limit_bytes(_read(directory + "/memory.max") or "")
        io = _read(directory + "/io.stat")
        block_read, block_write = parse_v2_io_bytes(io) if io else (0, 0)
        pids = _read(directory + "/pids.current")
        return (
            parse_flat_keyed(cpu).get("usage_usec", 0) * 1000,
            used - inactive if 0 <= inactive < used else used,
            limit or 0,
            block_read,
            block_write,
            int(pids) if pids else 0,
        )
