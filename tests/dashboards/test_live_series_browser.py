"""The live charts' merge rules (dashboards/assets/live_series.js), run in headless
Chromium on a blank page: a seed, then pushed samples, never a point twice or out of
order, and gaps kept as null rows. The whole path (seed read through the range
endpoints, pushes on top) is tests/e2e/test_live_browser.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dashboards

pytestmark = [pytest.mark.browser]

SOURCE = (Path(dashboards.__file__).parent / "assets" / "live_series.js").read_text()
S = 1000


def _seed(
    times: list[int], values: list[float | None], until_ms: int | None, gap_ms: int = S
) -> dict[str, Any]:
    return {"time_ms": times, "columns": [values], "until_ms": until_ms, "gap_ms": gap_ms}


@pytest.fixture
def series(dash_duo: Any) -> Any:
    driver = dash_duo.driver
    driver.get("about:blank")
    driver.execute_script(SOURCE)

    def run(steps: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """Apply ``steps`` (("seed", series) or ("push", (times, values))) to one chart's
        state, in order; what each step adds to the chart."""
        return list(
            driver.execute_script(
                "var S = window.tidewatchSeries, state = S.create();"
                " return arguments[0].map(function (step) {"
                "   return step[0] === 'seed' ? S.seed(state, step[1])"
                "     : S.take(state, step[1][0], [step[1][1]]); });",
                steps,
            )
        )

    return run


def test_a_seed_then_only_newer_pushed_samples(series: Any) -> None:
    # Raw buckets start on the second; pushed samples carry their own millisecond.
    seeded = _seed([1000, 2000, 3000], [1.0, 2.0, 3.0], until_ms=4000)
    added = series(
        [
            ("seed", seeded),
            ("push", ([3000, 3400], [3.0, 3.4])),  # the last seeded point, and inside its bucket
            ("push", ([2500], [2.5])),  # older than the seed's end
            ("push", ([4300, 4300, 5300], [4.3, 4.3, 5.3])),  # a repeat within a batch
            ("push", ([5300], [5.3])),  # equal to the last drawn point
            ("push", ([6300], [6.3])),
        ]
    )
    assert added == [
        {"x": [1000, 2000, 3000], "y": [[1.0, 2.0, 3.0]]},
        {"x": [], "y": [[]]},
        {"x": [], "y": [[]]},
        {"x": [4300, 5300], "y": [[4.3, 5.3]]},
        {"x": [], "y": [[]]},
        {"x": [6300], "y": [[6.3]]},
    ]


def test_seeded_gaps_stay_gaps_and_a_silence_opens_one(series: Any) -> None:
    added = series(
        [
            # with_gaps' null row at 3000 (samples stopped after 2000).
            ("seed", _seed([1000, 2000, 3000, 9000], [1.0, 2.0, None, 9.0], until_ms=10_000)),
            ("push", ([10_200, 20_200], [10.2, 20.2])),  # the agent fell silent for ten seconds
        ]
    )
    assert added == [
        {"x": [1000, 2000, 3000, 9000], "y": [[1.0, 2.0, None, 9.0]]},
        {"x": [10_200, 11_200, 20_200], "y": [[10.2, None, 20.2]]},
    ]


def test_a_reseed_after_reconnecting_adds_only_what_the_chart_missed(series: Any) -> None:
    added = series(
        [
            ("push", ([1200, 2200], [1.2, 2.2])),  # pushed before the socket dropped
            # Read after reconnecting: overlaps what is drawn, then a gap while the agent was down too.
            ("seed", _seed([1000, 2000, 3000, 4000, 5000, 30_000], [1, 2, 3, 4, None, 30], until_ms=31_000)),
            ("push", ([30_400, 31_400], [30.4, 31.4])),
        ]
    )
    assert added == [
        {"x": [1200, 2200], "y": [[1.2, 2.2]]},
        {"x": [3000, 4000, 5000, 30_000], "y": [[3, 4, None, 30]]},
        {"x": [31_400], "y": [[31.4]]},
    ]


def test_a_seed_with_no_rows_leaves_the_chart_to_the_pushes(series: Any) -> None:
    added = series([("seed", _seed([], [], until_ms=None)), ("push", ([500, 1500], [0.5, 1.5]))])
    assert added == [{"x": [], "y": [[]]}, {"x": [500, 1500], "y": [[0.5, 1.5]]}]
