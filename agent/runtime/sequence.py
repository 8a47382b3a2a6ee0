"""The per-epoch batch sequence, persisted so restarts continue where they left off."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from agent.runtime.durable import write_atomically

__all__ = ["SequenceAllocator"]

log = logging.getLogger(__name__)

STATE_FILE = "sequence-state.json"


class SequenceAllocator:
    """Hands out batch sequences 1, 2, 3, ... within an epoch.

    The state file holds a high-water mark reserved ahead of use (a lease of
    ``lease`` sequences), so the disk is written once per lease rather than once
    per batch, and a crash can only skip numbers, never reuse one. A clean
    :meth:`close` records the exact next sequence, so clean restarts leave no gap.
    When the state is missing or unreadable a new epoch (current Unix ms) starts,
    because the collector deduplicates on (vps, epoch, sequence).
    """

    def __init__(
        self,
        directory: Path,
        *,
        lease: int = 64,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._path = directory / STATE_FILE
        self._lease = max(1, lease)
        self.fresh_epoch = False
        loaded = self._load()
        if loaded is None:
            self.epoch = clock_ms()
            self._next = 1
            self.fresh_epoch = True
        else:
            self.epoch, self._next = loaded
        self._reserved_until = self._next  # nothing of the new lease is on disk yet
        self._reserve()

    def _load(self) -> tuple[int, int] | None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            epoch, next_sequence = int(data["epoch"]), int(data["next_sequence"])
        except FileNotFoundError:
            log.info("no sequence state at %s: starting a new epoch", self._path)
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("sequence state %s unreadable (%s): starting a new epoch", self._path, exc)
            return None
        if epoch <= 0 or next_sequence <= 0:
            log.warning("sequence state %s is invalid: starting a new epoch", self._path)
            return None
        return epoch, next_sequence

    def _write(self, next_sequence: int) -> None:
        body = {"epoch": self.epoch, "next_sequence": next_sequence}
        write_atomically(self._path, json.dumps(body).encode())

    def _reserve(self) -> None:
        self._reserved_until = self._next + self._lease
        try:
            self._write(self._reserved_until)
        except OSError as exc:
            # Keep sampling and delivering (a full disk is when metrics matter
            # most); only a crash before the next successful write risks reuse.
            log.error("cannot persist sequence state %s: %s", self._path, exc)

    @property
    def next_sequence(self) -> int:
        """The sequence the next :meth:`allocate` returns."""
        return self._next

    def skip_to(self, sequence: int) -> None:
        """Never hand out anything below ``sequence`` (e.g. past what the spool holds)."""
        if sequence > self._next:
            self._next = sequence
            if self._next >= self._reserved_until:
                self._reserve()

    def allocate(self) -> int:
        """The next sequence; persisted (as part of a lease) before it is returned."""
        if self._next >= self._reserved_until:
            self._reserve()
        sequence = self._next
        self._next += 1
        return sequence

    def close(self) -> None:
        """Record the exact next sequence so a clean restart leaves no gap."""
        self._write(self._next)
        self._reserved_until = self._next
