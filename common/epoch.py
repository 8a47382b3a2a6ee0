"""The bounds of a Unix-millisecond timestamp that every component accepts."""

from __future__ import annotations

__all__ = ["YEAR_10000_MS"]

# The first millisecond of the year 10000 (UTC): past Python's datetime, PostgreSQL's
# to_timestamp() and any real clock. Valid timestamps are below it.
YEAR_10000_MS = 253_402_300_800_000
