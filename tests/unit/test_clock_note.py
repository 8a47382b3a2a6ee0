"""The skew limit and the "clock skewed by X" wording shared by the API and dashboards."""

from __future__ import annotations

import pytest

from common.clock import CLOCK_SKEW_LIMIT_MS, clock_skew_note, is_clock_skewed


@pytest.mark.parametrize(
    ("offset_ms", "note"),
    [
        (None, None),
        (0, None),
        (CLOCK_SKEW_LIMIT_MS, None),
        (-CLOCK_SKEW_LIMIT_MS, None),
        (CLOCK_SKEW_LIMIT_MS + 1000, "clock skewed by 5 min 1 s (behind)"),
        (-596_000, "clock skewed by 9 min 56 s (ahead)"),
        (600_000, "clock skewed by 10 min (behind)"),
        (-3_600_000, "clock skewed by 1 h (ahead)"),
        (90_061_000, "clock skewed by 1 d 1 h (behind)"),
    ],
)
def test_note_past_the_limit_only(offset_ms: int | None, note: str | None) -> None:
    assert clock_skew_note(offset_ms) == note
    assert is_clock_skewed(offset_ms) is (note is not None)
