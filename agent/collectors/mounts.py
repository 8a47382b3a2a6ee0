"""Space used per mounted filesystem (``DiskUsage``), like ``df``.

Pseudo filesystems are skipped, a device mounted at several places is counted
once (at its shortest mountpoint, as GNU ``df`` does), and ``statvfs`` on a
network filesystem runs with a timeout so a hung NFS server cannot stall the
agent: a mount whose call timed out is skipped until that call returns.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import psutil

from agent.host_text import host_text
from proto import agent_pb2

__all__ = ["NETWORK_FSTYPES", "PSEUDO_FSTYPES", "Mount", "MountUsageReader", "disk_usage", "select_mounts"]

log = logging.getLogger(__name__)

PSEUDO_FSTYPES = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
        "devtmpfs", "efivarfs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl",
        "hugetlbfs", "mqueue", "nsfs", "overlay", "proc", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "aufs", "shiftfs",
        "nfsd", "devfs", "none",
    }
)  # fmt: skip

NETWORK_FSTYPES = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre",
        "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs", "fuse.rclone", "fuse.cephfs", "davfs",
    }
)  # fmt: skip

_STATVFS_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of the mount table."""

    device: str
    mountpoint: str
    fstype: str


def _matches(mountpoint: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(mountpoint, pattern) for pattern in patterns)


def select_mounts(
    mounts: Iterable[Mount], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Mount]:
    """The mounts worth reporting, in mount-table order.

    ``include`` and ``exclude`` are globs on the mountpoint (``/srv/*``); an
    empty ``include`` means every real filesystem. Exclude wins.
    """
    table = list(mounts)
    chosen: dict[str, Mount] = {}
    for mount in table:
        if mount.fstype in PSEUDO_FSTYPES or mount.fstype.startswith("fuse.snap"):
            continue
        if include and not _matches(mount.mountpoint, include):
            continue
        if exclude and _matches(mount.mountpoint, exclude):
            continue
        # Bind mounts repeat the device; keep the shortest mountpoint, as df does.
        key = mount.device if mount.device.startswith("/") or ":" in mount.device else mount.mountpoint
        seen = chosen.get(key)
        if seen is None or len(mount.mountpoint) < len(seen.mountpoint):
            chosen[key] = mount
    kept = set(chosen.values())
    return list(dict.fromkeys(m for m in table if m in kept))


def disk_usage(mount: Mount, stat: os.statvfs_result) -> agent_pb2.DiskUsage | None:
    """A ``DiskUsage`` from a ``statvfs`` result; None for a filesystem with no blocks."""
    if stat.f_blocks <= 0:
        return None
    block = stat.f_frsize or stat.f_bsize
    return agent_pb2.DiskUsage(
        mountpoint=host_text(mount.mountpoint, "mount_point"),
        device=host_text(mount.device, "filesystem_device"),
        fstype=host_text(mount.fstype, "filesystem_type"),
        total_bytes=stat.f_blocks * block,
        used_bytes=max(stat.f_blocks - stat.f_bfree, 0) * block,
        # What unprivileged users can still write, as df shows it.
        free_bytes=stat.f_bavail * block,
        inodes_total=stat.f_files,
        inodes_used=max(stat.f_files - stat.f_ffree, 0),
    )


class MountUsageReader:
    """Reads the mount table and ``statvfs`` for each selected mount."""

    def __init__(self, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self._include = tuple(include)
        self._exclude = tuple(exclude)
        self._pool: ThreadPoolExecutor | None = None
        self._hung: dict[str, Future[os.statvfs_result]] = {}

    def read(self) -> list[agent_pb2.DiskUsage]:
        table = [
            Mount(device=p.device, mountpoint=p.mountpoint, fstype=p.fstype)
            for p in psutil.disk_partitions(all=True)
        ]
        usages: list[agent_pb2.DiskUsage] = []
        for mount in select_mounts(table, self._include, self._exclude):
            stat = self._statvfs(mount)
            if stat is not None and (usage := disk_usage(mount, stat)) is not None:
                usages.append(usage)
        return usages

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _statvfs(self, mount: Mount) -> os.statvfs_result | None:
        try:
            if mount.fstype not in NETWORK_FSTYPES:
                return os.statvfs(mount.mountpoint)
            return self._statvfs_with_timeout(mount.mountpoint)
        except OSError as exc:
            # Permission denied, a vanished mount: skip this one, keep the others.
            log.debug("statvfs(%s) failed: %s", mount.mountpoint, exc)
            return None

    def _statvfs_with_timeout(self, mountpoint: str) -> os.statvfs_result | None:
        hung = self._hung.get(mountpoint)
        if hung is not None:
            if not hung.done():
                return None
            del self._hung[mountpoint]
            log.info("mount %s answers again", mountpoint)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="statvfs")
        future = self._pool.submit(os.statvfs, mountpoint)
        try:
            return future.result(timeout=_STATVFS_TIMEOUT_S)
        except FutureTimeout:
            log.warning(
                "statvfs(%s) hung for %.0f s; skipping it until it answers", mountpoint, _STATVFS_TIMEOUT_S
            )
            self._hung[mountpoint] = future
            return None
