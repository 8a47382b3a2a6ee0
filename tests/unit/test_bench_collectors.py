"""``bench.load_run.sum_metrics``: several collectors' counters added up for one figure."""

from __future__ import annotations

from bench.load_run import sum_metrics
from bench.probes import CollectorMetrics


def _metrics(scale: float, buckets: tuple[tuple[float, float], ...]) -> CollectorMetrics:
    return CollectorMetrics(
        rows={"host_metrics": 10 * scale, "disk_metrics": 40 * scale},
        flushes=3 * scale,
        flush_seconds=0.5 * scale,
        lag_buckets=buckets,
        queue_rows=7 * scale,
        batches={"stored": 5 * scale},
        agents_connected=2 * scale,
    )


def test_counters_add_up_and_cumulative_lag_buckets_add_per_bound() -> None:
    first = _metrics(1, ((0.5, 1.0), (1.0, 4.0), (float("inf"), 5.0)))
    second = _metrics(2, ((0.5, 2.0), (1.0, 6.0), (float("inf"), 8.0)))
    second.batches["duplicate"] = 1.0
    total = sum_metrics([first, second])
    assert total.rows == {"host_metrics": 30.0, "disk_metrics": 120.0}
    assert total.rows_total == 150.0
    assert (total.flushes, total.flush_seconds, total.queue_rows) == (9.0, 1.5, 21.0)
    assert total.batches == {"stored": 15.0, "duplicate": 1.0}
    assert total.agents_connected == 6.0
    assert total.lag_buckets == ((0.5, 3.0), (1.0, 10.0), (float("inf"), 13.0))


def test_one_collector_is_itself() -> None:
    only = _metrics(1, ((1.0, 2.0), (float("inf"), 3.0)))
    assert sum_metrics([only]) == only
