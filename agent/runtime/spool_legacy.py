"""Batches left by agents before the segment log: one ``<sequence>.batch`` file each.

An upgrade stops the old agent cleanly, which wrote every unacknowledged batch
to such files; the new agent takes them into its log once and deletes them.
"""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

__all__ = ["read_legacy_batches", "remove_legacy_batches"]

log = logging.getLogger(__name__)

SUFFIX = ".batch"
_HEADER = struct.Struct(">4sI")  # magic, CRC32 of the payload
_MAGIC = b"TWB1"


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if p.name.removesuffix(SUFFIX).isdigit())


def read_legacy_batches(directory: Path) -> list[tuple[int, bytes]]:
    """``(sequence, payload)`` of every whole legacy batch file, oldest first."""
    found: list[tuple[int, bytes]] = []
    for path in _files(directory):
        data = path.read_bytes()
        payload = data[_HEADER.size :]
        if len(data) < _HEADER.size or _HEADER.unpack_from(data) != (_MAGIC, zlib.crc32(payload)):
            log.error("legacy spool file %s is corrupt; discarding it", path.name)
            continue
        found.append((int(path.name.removesuffix(SUFFIX)), payload))
    if found:
        log.info("taking %d batches from the old one-file-per-batch spool into the log", len(found))
    return found


def remove_legacy_batches(directory: Path) -> None:
    """Delete the legacy files (and their temp files), once the log holds their batches durably."""
    for path in [*_files(directory), *directory.glob(f"*{SUFFIX}.tmp")]:
        path.unlink(missing_ok=True)
