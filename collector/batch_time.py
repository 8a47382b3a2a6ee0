"""Which agent timestamps a batch may carry, and how they become stored times. Pure.

Agent clocks can be off by minutes. Each batch's timestamps are shifted by the
agent's clock offset (``clock_rules``) before they are checked against the
collector's own clock and stored; see docs/architecture.md, "Agent clocks".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.validation import InvalidBatch, check_time
from common.clock import applied_offset_ms
from common.epoch import YEAR_10000_MS

__all__ = ["TimeRules", "check_corrected", "clock_rules", "identity_time", "optional_time", "stored_time"]


@dataclass(frozen=True, slots=True)
class TimeRules:
    """Which sample times are accepted, and how an agent's timestamps become stored times."""

    now_ms: int
    max_future_ms: int
    max_age_ms: int
    # Added to every agent timestamp (the agent's clock offset); the checks apply to the sum.
    offset_ms: int = 0
    # Added to the earliest timestamp to give the batch's identity time. It comes
    # from the batch alone, so a resent batch keeps its identity (and is seen as a
    # duplicate) whatever the collector's estimate of the agent's clock is by then.
    identity_offset_ms: int = 0


def clock_rules(rules: TimeRules, batch: Any, stream_offset_ms: int | None) -> TimeRules:
    """``rules`` with the clock correction for ``batch``.

    A batch stamped with the offset its agent believed when it took the samples
    is corrected with that offset. Offsets under ``CLOCK_CORRECTION_MIN_MS`` are
    noise and not applied. An unstamped one (taken before the agent had
    measured its clock) is corrected with the collector's current estimate for
    the stream, ``stream_offset_ms``; with none, it is checked as sent.
    """
    # Built directly: dataclasses.replace costs several microseconds per batch.
    if batch.clock_offset_known:
        offset = applied_offset_ms(int(batch.clock_offset_ms))
        return TimeRules(rules.now_ms, rules.max_future_ms, rules.max_age_ms, offset, offset)
    return TimeRules(
        rules.now_ms, rules.max_future_ms, rules.max_age_ms, applied_offset_ms(stream_offset_ms or 0), 0
    )


def stored_time(ms: int) -> datetime:
    """A Unix-millisecond time as stored."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def optional_time(ms: int, path: str, offset_ms: int) -> datetime | None:
    """An informational agent time (0: unknown), corrected; out of range after correction: unknown."""
    if ms >= YEAR_10000_MS:
        raise InvalidBatch(f"{path}: timestamp {ms} is after the year 9999")
    corrected = ms + offset_ms
    return stored_time(corrected) if ms > 0 and 0 < corrected < YEAR_10000_MS else None


def identity_time(first_sent_ms: int, rules: TimeRules) -> datetime | None:
    """The batch's identity time when it is not its (corrected) earliest sample time."""
    if rules.identity_offset_ms == rules.offset_ms:
        return None
    ms = first_sent_ms + rules.identity_offset_ms
    if not 0 < ms < YEAR_10000_MS:
        raise InvalidBatch(f"timestamp_unix_ms: {first_sent_ms} is not between 1970 and the year 9999")
    return stored_time(ms)


def check_corrected(path: str, sent_ms: int, rules: TimeRules) -> None:
    """Check a sample time once corrected; the error says what was sent and the correction."""
    try:
        check_time(
            path,
            sent_ms + rules.offset_ms,
            now_ms=rules.now_ms,
            max_future_ms=rules.max_future_ms,
            max_age_ms=rules.max_age_ms,
        )
    except InvalidBatch as exc:
        if not rules.offset_ms:
            raise
        raise InvalidBatch(f"{exc} (sent as {sent_ms}, corrected by {rules.offset_ms:+d} ms)") from None
