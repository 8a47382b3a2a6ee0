"""A bounded on-disk spool of serialized batches, one file per batch."""

from __future__ import annotations

import bisect
import logging
import os
import struct
import zlib
from pathlib import Path

from agent.runtime.durable import TEMP_SUFFIX, write_atomically

__all__ = ["DiskSpool"]

log = logging.getLogger(__name__)

SUFFIX = ".batch"
# Magic + CRC32 of the payload: a torn or bit-rotted file is detected, not parsed.
_HEADER = struct.Struct(">4sI")
_MAGIC = b"TWB1"


def _file_name(sequence: int) -> str:
    return f"{sequence:020d}{SUFFIX}"


class DiskSpool:
    """Batches keyed by sequence, stored as ``<sequence>.batch`` files in one directory.

    Each file is written with temp + fsync + rename, so after a crash a file is
    either complete or absent; stray temp files are deleted on open. The total
    size is bounded by ``max_bytes``: :meth:`write` evicts the oldest files to
    make room and returns their sequences so the caller can count the loss.
    """

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._sizes: dict[int, int] = {}
        self._order: list[int] = []
        self.total_bytes = 0
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._scan()

    def _scan(self) -> None:
        for entry in os.scandir(self.directory):
            name = entry.name
            if name.endswith(TEMP_SUFFIX):
                log.info("removing partial spool file %s left by a crash", name)
                Path(entry.path).unlink(missing_ok=True)
                continue
            stem = name.removesuffix(SUFFIX)
            if not name.endswith(SUFFIX) or not stem.isdigit():
                continue
            self._index(int(stem), entry.stat().st_size)
        if self._order:
            log.info(
                "spool %s holds %d batches (%d bytes), sequences %d..%d",
                self.directory,
                len(self._order),
                self.total_bytes,
                self._order[0],
                self._order[-1],
            )

    def _index(self, sequence: int, size: int) -> None:
        if sequence not in self._sizes:
            bisect.insort(self._order, sequence)
        else:
            self.total_bytes -= self._sizes[sequence]
        self._sizes[sequence] = size
        self.total_bytes += size

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, sequence: object) -> bool:
        return sequence in self._sizes

    def sequences(self) -> list[int]:
        """Sequences on disk, oldest first."""
        return list(self._order)

    def first_after(self, sequence: int) -> int | None:
        """The oldest stored sequence greater than ``sequence``."""
        index = bisect.bisect_right(self._order, sequence)
        return self._order[index] if index < len(self._order) else None

    def write(self, sequence: int, payload: bytes) -> list[int]:
        """Store ``payload``; returns the sequences evicted to stay within ``max_bytes``.

        A payload larger than the whole bound is not stored and its own sequence
        is returned as evicted.
        """
        size = _HEADER.size + len(payload)
        if size > self.max_bytes:
            return [sequence]
        evicted: list[int] = []
        while self._order and self.total_bytes + size > self.max_bytes:
            oldest = self._order[0]
            self.remove(oldest)
            evicted.append(oldest)
        data = _HEADER.pack(_MAGIC, zlib.crc32(payload)) + payload
        write_atomically(self.directory / _file_name(sequence), data)
        self._index(sequence, size)
        return evicted

    def read(self, sequence: int) -> bytes | None:
        """The payload of ``sequence``, or None when it is gone or corrupt (then removed)."""
        path = self.directory / _file_name(sequence)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._forget(sequence)
            return None
        if len(data) >= _HEADER.size:
            magic, crc = _HEADER.unpack_from(data)
            payload = data[_HEADER.size :]
            if magic == _MAGIC and zlib.crc32(payload) == crc:
                return payload
        log.error("spool file %s is corrupt; discarding it", path)
        self.remove(sequence)
        return None

    def remove(self, sequence: int) -> None:
        """Delete ``sequence`` if present."""
        # No directory fsync: if the unlink is lost in a crash the batch is
        # resent and the collector answers DUPLICATE.
        (self.directory / _file_name(sequence)).unlink(missing_ok=True)
        self._forget(sequence)

    def _forget(self, sequence: int) -> None:
        size = self._sizes.pop(sequence, None)
        if size is None:
            return
        self.total_bytes -= size
        index = bisect.bisect_left(self._order, sequence)
        del self._order[index]
