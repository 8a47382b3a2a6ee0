"""Garbage-collector settings for the collector process.

Every batch allocates a few hundred tuples and lists (one per row and value
group) that live until their flush commits, a fraction of a second. With
CPython's default first threshold (700 allocations) a young collection ran
every few batches, moved the queued rows to older generations and made full
collections walk them together with every session's objects: about a tenth
of the collector's CPU under load (py-spy, docs/benchmarks.md). Rows are freed
by reference counting, never by the cycle collector, so collecting less often
changes nothing but the CPU spent (and at most a few MB of cycles held a
little longer).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_gc"]

# Allocations (net of frees) between young collections; CPython's default is 700.
YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect less often, and leave what exists at startup out of every later collection."""
    gc.collect()
    gc.freeze()  # modules, settings, compiled tables: never garbage
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
