"""The spool's record framing: ``magic | kind | body length | CRC32(kind + body) | body``."""

from __future__ import annotations

import enum
import os
import struct
import zlib

__all__ = [
    "FRAME_SIZE",
    "MAX_RECORD_BYTES",
    "SEQUENCE",
    "RecordKind",
    "frame",
    "is_cut_short",
    "parse_record",
    "write_all",
]

FRAME = struct.Struct(">2sBII")  # magic, kind, body length, crc32
FRAME_MAGIC = b"TW"
SEQUENCE = struct.Struct(">Q")
# No single batch comes near this; a larger length field is corruption.
MAX_RECORD_BYTES = 64 * 1024 * 1024


class RecordKind(enum.IntEnum):
    """What a record says."""

    BATCH = 1  # sequence + serialized MessageToServer
    ACK = 2  # sequence: the batch is acknowledged
    SNAPSHOT = 3  # a snapshot taken but not yet in a batch
    SNAPSHOT_BATCH = 4  # like BATCH, and it holds every SNAPSHOT written before it
    RETIRED_EPOCH = 5  # epoch: its batches were renumbered into a later epoch


KINDS = frozenset(int(kind) for kind in RecordKind)
FRAME_SIZE = FRAME.size


def frame(kind: RecordKind, body: bytes) -> bytes:
    """The record header for ``body``."""
    return FRAME.pack(FRAME_MAGIC, kind, len(body), zlib.crc32(body, zlib.crc32(bytes((kind,)))))


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``, however many calls it takes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def parse_record(data: bytes, offset: int) -> tuple[RecordKind, bytes, int] | None:
    """The record at ``offset``: kind, body and where the next one starts; None when not whole and valid."""
    if len(data) - offset < FRAME.size:
        return None
    magic, kind, length, crc = FRAME.unpack_from(data, offset)
    start = offset + FRAME.size
    end = start + length
    if magic != FRAME_MAGIC or end > len(data) or kind not in KINDS:
        return None
    body = data[start:end]
    if zlib.crc32(body, zlib.crc32(bytes((kind,)))) != crc:
        return None
    needs_sequence = kind != RecordKind.SNAPSHOT
    if needs_sequence and len(body) < SEQUENCE.size:
        return None
    return RecordKind(kind), body, end


def is_cut_short(data: bytes, offset: int) -> bool:
    """Whether the record at ``offset`` runs past the end of ``data``: a write a crash cut short."""
    if len(data) - offset < FRAME.size:
        return True
    length: int = FRAME.unpack_from(data, offset)[2]
    return offset + FRAME.size + length > len(data)
