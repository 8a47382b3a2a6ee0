"""The live charts' seed (dashboards/live_seed.py): pure functions, tested without a browser.
How the feed merges a seed with pushed samples is tests/dashboards/test_live_series_browser.py."""

from __future__ import annotations

from typing import Any

import msgspec

from common.api_models import HostSeries, NetworkSeries
from dashboards.live_seed import SEED_WINDOW_MS, chart_seed, network_totals, seed_payload
from dashboards.live_view import LIVE_CHARTS, WINDOW_POINTS

GIB = 1 << 30
WINDOW = {"vps_id": 1, "resolution": "raw", "step_ms": 1000, "from_ms": 0, "to_ms": 20_000}


def _host(times: list[int], **columns: list[float | None]) -> HostSeries:
    fields = [f for f in HostSeries.__struct_fields__ if f not in (*WINDOW, "time_ms")]
    values = {f: columns.get(f, [1.0] * len(times)) for f in fields}
    return msgspec.convert({**WINDOW, "time_ms": times, **values}, HostSeries)


def _interface(name: str, times: list[int], rx: list[float | None], tx: list[float | None]) -> dict[str, Any]:
    columns = {"rx_bytes_per_second": rx, "tx_bytes_per_second": tx}
    return {"interface": name, "time_ms": times, **columns}


def _network(*interfaces: dict[str, Any]) -> NetworkSeries:
    filled = []
    for interface in interfaces:
        n = len(interface["time_ms"])
        filled.append(
            {
                "rx_bytes_per_second_max": [None] * n,
                "tx_bytes_per_second_max": [None] * n,
                "rx_bytes": [None] * n,
                "tx_bytes": [None] * n,
                **interface,
            }
        )
    return msgspec.convert({**WINDOW, "interfaces": filled}, NetworkSeries)


def test_a_chart_seed_keeps_gaps_and_says_where_its_last_bucket_ends() -> None:
    seed = chart_seed([1000, 2000, 3000, 9000, 10_000], 1000, [1.0, 2.0, 3.0, 9.0, 10.0])
    assert seed == {
        "time_ms": [1000, 2000, 3000, 4000, 9000, 10_000],
        "columns": [[1.0, 2.0, 3.0, None, 9.0, 10.0]],
        "until_ms": 11_000,
        "gap_ms": 1000,
    }


def test_samples_sparser_than_the_buckets_are_not_gaps() -> None:
    # Five-second samples in one-second raw buckets: the agent's own spacing, no breaks.
    seed = chart_seed([0, 5000, 10_000, 15_000], 1000, [1.0, 2.0, 3.0, 4.0])
    assert seed["time_ms"] == [0, 5000, 10_000, 15_000]
    assert seed["gap_ms"] == 5000
    assert seed["until_ms"] == 16_000


def test_an_empty_window_seeds_nothing() -> None:
    assert chart_seed([], 1000, []) == {"time_ms": [], "columns": [[]], "until_ms": None, "gap_ms": 1000}


def test_network_rates_are_summed_over_interfaces_per_bucket() -> None:
    network = _network(
        _interface("eth0", [1000, 2000, 3000], [10.0, None, 30.0], [1.0, 2.0, None]),
        _interface("eth1", [2000, 3000, 4000], [5.0, 6.0, None], [None, 7.0, None]),
    )
    assert network_totals(network) == (
        [1000, 2000, 3000, 4000],
        [10.0, 5.0, 36.0, None],
        [1.0, 2.0, 7.0, None],
    )


def test_the_seed_fills_every_live_chart_in_its_trace_order() -> None:
    times = [1000, 2000, 3000]
    host = _host(
        times,
        cpu_percent=[10.0, None, 30.0],
        memory_used_bytes=[GIB, 2 * GIB, None],
        memory_total_bytes=[4 * GIB, 4 * GIB, 4 * GIB],
        load_1=[0.5, 0.75, 1.0],
    )
    network = _network(_interface("eth0", times, [100.0, 200.0, 300.0], [1.0, 2.0, 3.0]))
    seed = seed_payload(host, network)
    assert set(seed) == set(LIVE_CHARTS)
    for chart, (_, _, traces) in LIVE_CHARTS.items():
        assert len(seed[chart]["columns"]) == len(traces), chart
    assert seed["vps-live-cpu"]["columns"] == [[10.0, None, 30.0]]
    assert seed["vps-live-memory"]["columns"] == [[25.0, 50.0, None]]
    assert seed["vps-live-load"]["columns"] == [[0.5, 0.75, 1.0]]
    assert seed["vps-live-network"]["columns"] == [[100.0, 200.0, 300.0], [1.0, 2.0, 3.0]]
    assert all(s["until_ms"] == 4000 for s in seed.values())


def test_the_seed_covers_the_charts_window_of_one_second_samples() -> None:
    assert SEED_WINDOW_MS == WINDOW_POINTS * 1000
