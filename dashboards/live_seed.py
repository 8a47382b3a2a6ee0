"""The live charts' seed: their last window, read once from the range endpoints.

When the VPS page's live section opens, and each time its feed reconnects, the feed
(``assets/live_feed.js``) asks for a seed through the ``ask`` store. One callback reads
``/metrics/host`` and ``/metrics/network`` at raw resolution over the charts' window and
answers in the ``seed`` store; the feed draws it, then extends the charts from pushed
samples, skipping any the seed already holds (``assets/live_series.js``). Nothing here
runs per sample. Gaps stay gaps: a null row wherever samples stop, as in the history charts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, no_update

from common.api_models import HostSeries, NetworkSeries
from dashboards.client import ApiError
from dashboards.context import api, token_of
from dashboards.figures import with_gaps
from dashboards.history.chart import gap_step
from dashboards.units import percent

__all__ = ["SEED_WINDOW_MS", "chart_seed", "network_totals", "register_seed", "seed_payload"]

Values = Sequence[float | None]
# The charts hold 300 points: five minutes of one-second samples.
SEED_WINDOW_MS = 300_000


def chart_seed(times: Sequence[int], step_ms: int, *columns: Values) -> dict[str, Any]:
    """One chart's seed: its rows with gap breaks, the end of its last bucket (a pushed
    sample before it is already counted) and the spacing gaps are measured against."""
    gap_ms = gap_step(times, step_ms)
    gapped_times, gapped = with_gaps(times, gap_ms, *columns)
    return {
        "time_ms": gapped_times,
        "columns": gapped,
        "until_ms": times[-1] + step_ms if times else None,
        "gap_ms": gap_ms,
    }


def network_totals(network: NetworkSeries) -> tuple[list[int], list[float | None], list[float | None]]:
    """Receive and send rates summed over interfaces per bucket, as the pushed sample sums
    them (collector/row_shapes.py); None where no interface has a value."""
    rx: dict[int, float | None] = {}
    tx: dict[int, float | None] = {}
    for interface in network.interfaces:
        for t, r, s in zip(
            interface.time_ms, interface.rx_bytes_per_second, interface.tx_bytes_per_second, strict=True
        ):
            for total, value in ((rx, r), (tx, s)):
                if value is None:
                    total.setdefault(t, None)
                else:
                    total[t] = (total.get(t) or 0.0) + value
    times = sorted(rx)
    return times, [rx[t] for t in times], [tx[t] for t in times]


def seed_payload(host: HostSeries, network: NetworkSeries) -> dict[str, dict[str, Any]]:
    """Each live chart's seed (``dashboards/live_view.py`` LIVE_CHARTS' ids and trace order)."""
    memory = [percent(u, t) for u, t in zip(host.memory_used_bytes, host.memory_total_bytes, strict=True)]
    net_times, rx, tx = network_totals(network)
    return {
        "vps-live-cpu": chart_seed(host.time_ms, host.step_ms, host.cpu_percent),
        "vps-live-memory": chart_seed(host.time_ms, host.step_ms, memory),
        "vps-live-network": chart_seed(net_times, network.step_ms, rx, tx),
        "vps-live-load": chart_seed(host.time_ms, host.step_ms, host.load_1),
    }


def read_seed(token: str, vps_id: int, now_ms: int) -> dict[str, dict[str, Any]]:
    """The seed of VPS ``vps_id`` as of ``now_ms``: two range reads, raw resolution."""
    start = now_ms - SEED_WINDOW_MS
    client = api()
    host = client.series_between(token, vps_id, "host", HostSeries, start, now_ms, resolution="raw")
    network = client.series_between(token, vps_id, "network", NetworkSeries, start, now_ms, resolution="raw")
    return seed_payload(host, network)


def register_seed(ask_id: str, seed_id: str, done_id: str) -> None:
    """Answer the feed's seed requests in ``ask_id`` into ``seed_id``; the feed draws each
    seed and writes how many it drew into ``done_id``'s children."""

    @callback(
        Output(seed_id, "data"),
        Input(ask_id, "data"),
        State("app-session", "data"),
        prevent_initial_call=True,
    )
    def answer(ask: dict[str, Any] | None, session: dict[str, Any] | None) -> Any:
        token = token_of(session)
        if not ask or token is None:
            return no_update
        seq, vps_id = ask.get("seq"), ask.get("vps_id")
        if not isinstance(seq, int) or not isinstance(vps_id, int) or isinstance(vps_id, bool):
            return no_update
        reply: dict[str, Any] = {"seq": seq, "vps_id": vps_id}
        try:
            reply["charts"] = read_seed(token, vps_id, int(time.time() * 1000))
        except ApiError as exc:
            # The feed carries on from pushed samples alone; done_id says why.
            reply["error"] = exc.detail
        return reply

    clientside_callback(
        ClientsideFunction("tidewatch", "seedLive"),
        Output(done_id, "children"),
        Input(seed_id, "data"),
        prevent_initial_call=True,
    )
