"""The history figures: every family, its units, gaps as gaps, offline marks. Pure, no browser."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from common.api_models import (
    ContainersSeries,
    CpuCoresSeries,
    CustomSeries,
    DiskIoSeries,
    DiskSeries,
    HostSeries,
    NetworkSeries,
    StatusEventOut,
    TemperatureSeries,
)
from dashboards.history import device_figures as dev
from dashboards.history import host_figures as host
from dashboards.history import workload_figures as work
from dashboards.history.chart import gap_step
from dashboards.history.charts import BUILDERS, fixed_charts, selections
from dashboards.history.fetch import HistoryData
from dashboards.history.layout import CHARTS
from dashboards.history.markers import OFFLINE_FILL, add_status_markers, offline_spans

GIB, MIB = 1 << 30, 1 << 20
STEP = 1000
WINDOW: dict[str, Any] = {"vps_id": 1, "resolution": "raw", "step_ms": STEP, "from_ms": 0, "to_ms": 20_000}
# Samples 0..3 s, then silence (offline) until 10 s.
TIMES = [0, 1000, 2000, 3000, 10_000, 11_000]


def _host(**columns: list[float | None]) -> HostSeries:
    fields = [f for f in HostSeries.__struct_fields__ if f not in (*WINDOW, "time_ms")]
    values = {f: columns.get(f, [1.0] * len(TIMES)) for f in fields}
    return msgspec.convert({**WINDOW, "time_ms": TIMES, **values}, HostSeries)


def _series(kind: type[Any], **body: Any) -> Any:
    return msgspec.convert({**WINDOW, **body}, kind)


def _ys(figure: Any) -> list[list[Any]]:
    return [list(trace.y) for trace in figure.data]


def _gapped(values: list[Any]) -> bool:
    """One None between the samples before and after the silence, nowhere else."""
    return len(values) == len(TIMES) + 1 and values[4] is None and None not in values[:4] + values[5:]


def test_cpu_breakdown_on_a_percent_axis_with_the_gap_kept() -> None:
    figure = host.cpu_figure(
        _host(cpu_percent=[10.0, 20, 30, 40, 50, 60], cpu_steal_percent=[0.5] * 6), 60, "r"
    )
    assert [t.name for t in figure.data] == ["total", "user", "system", "iowait", "steal"]
    assert all(_gapped(y) for y in _ys(figure))
    assert all(t.connectgaps is False for t in figure.data)
    assert list(figure.layout.yaxis.range) == [0, 100] and figure.layout.yaxis.ticksuffix == "%"
    # The axis is the whole window in local time (UTC+1 here), so every chart lines up.
    assert list(figure.layout.xaxis.range) == [3_600_000, 3_620_000]
    assert figure.data[0].x[0] == 3_600_000 and figure.layout.uirevision == "r"
    assert figure.layout.paper_bgcolor == "rgba(0,0,0,0)" and figure.layout.plot_bgcolor == "rgba(0,0,0,0)"


def test_load_connections_and_processes() -> None:
    series = _host(
        load_1=[0.5] * 6, load_15=[2.0] * 6, tcp_connections=[300.0] * 6, process_count=[187.0] * 6
    )
    load = host.load_figure(series)
    assert [t.name for t in load.data] == ["1 min", "5 min", "15 min"] and _ys(load)[2][0] == 2.0
    connections = host.connections_figure(series)
    assert [t.name for t in connections.data] == ["TCP", "UDP"] and _ys(connections)[0][0] == 300.0
    assert _ys(host.processes_figure(series)) == [[187.0, 187.0, 187.0, 187.0, None, 187.0, 187.0]]


def test_memory_and_swap_in_binary_units() -> None:
    series = _host(
        memory_total_bytes=[8.0 * GIB] * 6, memory_used_bytes=[2.0 * GIB] * 6,
        swap_total_bytes=[2.0 * GIB] * 6, swap_used_bytes=[0.5 * GIB] * 6,
    )  # fmt: skip
    figure = host.memory_figure(series)
    names = [t.name for t in figure.data]
    assert names == ["used", "cached", "total", "swap used", "swap total"]
    assert figure.layout.yaxis.ticksuffix == " GiB"
    assert _ys(figure)[names.index("swap used")][0] == 0.5 and _ys(figure)[names.index("total")][0] == 8.0
    no_swap = host.memory_figure(_host(memory_total_bytes=[512.0 * MIB] * 6, swap_total_bytes=[0.0] * 6))
    assert [t.name for t in no_swap.data] == [
        "used",
        "cached",
        "total",
    ] and no_swap.layout.yaxis.ticksuffix == " MiB"


def test_few_cores_are_lines_many_are_a_heatmap_with_gaps() -> None:
    few = _series(CpuCoresSeries, time_ms=TIMES, cores=[[10.0] * 6, [90.0] * 6])
    lines = host.cores_figure(few)
    assert [t.name for t in lines.data] == ["cpu0", "cpu1"] and all(_gapped(y) for y in _ys(lines))
    many = _series(CpuCoresSeries, time_ms=TIMES, cores=[[float(c)] * 6 for c in range(16)])
    heatmap = host.cores_figure(many).data[0]
    assert heatmap.type == "heatmap" and list(heatmap.y) == [f"cpu{c}" for c in range(16)]
    assert (heatmap.zmin, heatmap.zmax) == (0, 100)
    # An empty column at each edge of the silence, so no cell reaches into it.
    assert list(heatmap.x) == [0, 1000, 2000, 3000, 4000, 9000, 10_000, 11_000]
    assert [row[4:6] for row in heatmap.z] == [[None, None]] * 16 and heatmap.z[15][0] == 15.0
    assert "raw resolution" in str(
        host.cores_figure(_series(CpuCoresSeries, time_ms=[], cores=[])).layout.annotations[0].text
    )


def test_network_is_drawn_in_bits_per_second() -> None:
    interface = {"interface": "eth0", "time_ms": TIMES, "rx_bytes_per_second": [125_000.0] * 6,
                 "tx_bytes_per_second": [12_500.0] * 6}  # fmt: skip
    others = {
        f: [0.0] * 6 for f in ("rx_bytes_per_second_max", "tx_bytes_per_second_max", "rx_bytes", "tx_bytes")
    }
    figure = dev.network_figure(_series(NetworkSeries, interfaces=[{**interface, **others}]))
    assert [t.name for t in figure.data] == ["eth0 ↓", "eth0 ↑"]
    assert figure.layout.yaxis.ticksuffix == " Mbit/s"
    assert _ys(figure)[0][0] == pytest.approx(1.0) and _ys(figure)[1][0] == pytest.approx(0.1)
    assert figure.data[0].line.color == figure.data[1].line.color and figure.data[1].line.dash == "dot"
    assert all(_gapped(y) for y in _ys(figure))


def test_busiest_devices_only_in_name_order() -> None:
    devices = [
        {"device": f"sd{c}", "time_ms": [0], "read_bytes_per_second": [float(i) * MIB], "write_bytes_per_second": [0.0],
         "read_bytes_per_second_max": [0.0], "write_bytes_per_second_max": [0.0],
         "read_ops_per_second": [float(i) * 1000], "write_ops_per_second": [1.0]}
        for i, c in enumerate("abcdefgh")
    ]  # fmt: skip
    io = _series(DiskIoSeries, devices=devices)
    figure = dev.disk_io_bytes_figure(io)
    assert [t.name for t in figure.data][::2] == [f"sd{c} ↓" for c in "cdefgh"]  # the 6 busiest
    assert figure.layout.yaxis.ticksuffix == " MiB/s"
    ops = dev.disk_io_ops_figure(io)
    assert ops.layout.yaxis.ticksuffix == " kops/s" and _ys(ops)[-2] == [7.0]


def test_mounts_space_and_inodes_as_percent() -> None:
    mount = {"mountpoint": "/", "time_ms": TIMES, "used_bytes": [25.0 * GIB] * 6, "total_bytes": [100.0 * GIB] * 6,
             "inodes_used": [500.0] * 6, "inodes_total": [1000.0] * 6}  # fmt: skip
    nfs = {**mount, "mountpoint": "/mnt/nfs", "inodes_used": [0.0] * 6, "inodes_total": [0.0] * 6}
    disks = _series(DiskSeries, mounts=[mount, nfs])
    usage = dev.disk_usage_figure(disks)
    assert _ys(usage)[0][0] == 25.0 and "of 100.0 GiB" in usage.data[0].hovertemplate
    inodes = dev.inodes_figure(disks)
    assert [t.name for t in inodes.data] == ["/"] and _ys(inodes)[0][0] == 50.0  # no inodes: left out


def test_temperatures_per_sensor() -> None:
    sensors = [{"sensor": s, "time_ms": TIMES, "celsius": [v] * 6, "celsius_max": [v + 1] * 6}
               for s, v in (("nvme0", 38.0), ("coretemp", 55.0))]  # fmt: skip
    figure = dev.temperature_figure(_series(TemperatureSeries, sensors=sensors))
    assert [t.name for t in figure.data] == ["coretemp", "nvme0"] and figure.layout.yaxis.ticksuffix == " °C"
    assert (
        "No temperature"
        in dev.temperature_figure(_series(TemperatureSeries, sensors=[])).layout.annotations[0].text
    )


def test_containers_by_name_cpu_and_memory() -> None:
    rows = [{"container_id": cid, "name": name, "image": "x", "time_ms": TIMES, "cpu_percent": [cpu] * 6,
             "cpu_percent_max": [cpu] * 6, "memory_usage_bytes": [mem] * 6, "memory_usage_bytes_max": [mem] * 6,
             "memory_limit_bytes": [GIB] * 6, "pids": [3.0] * 6}
            for cid, name, cpu, mem in (("a" * 64, "web", 150.0, 256.0 * MIB), ("b" * 64, "", 5.0, 64.0 * MIB))]  # fmt: skip
    series = _series(ContainersSeries, containers=rows)
    cpu = work.container_cpu_figure(series)
    assert [t.name for t in cpu.data] == ["bbbbbbbbbbbb", "web"] and _ys(cpu)[1][0] == 150.0
    memory = work.container_memory_figure(series)
    assert memory.layout.yaxis.ticksuffix == " MiB" and _ys(memory)[1][0] == 256.0


def _custom() -> CustomSeries:
    metrics = [
        {
            "name": "queue_depth",
            "labels": {"queue": q},
            "time_ms": TIMES,
            "value": [v] * 6,
            "value_max": [v] * 6,
        }
        for q, v in (("mail", 2500.0), ("jobs", 1500.0))
    ] + [{"name": "backup_age", "labels": {}, "time_ms": [0], "value": [60.0], "value_max": [60.0]}]
    series: CustomSeries = _series(CustomSeries, metrics=metrics, truncated=False)
    return series


def test_custom_metrics_one_chart_per_name_a_line_per_picked_label_set() -> None:
    custom = _custom()
    grouped = work.custom_by_name(custom)
    assert list(grouped) == ["backup_age", "queue_depth"]
    queue = grouped["queue_depth"]
    assert work.default_label_sets(queue) == ['queue="jobs"', 'queue="mail"']
    assert work.label_set({"b": "2", "a": "1"}) == 'a="1", b="2"' and work.label_set({}) == "(no labels)"
    figure = work.custom_figure(custom, queue, ['queue="mail"'])
    assert [t.name for t in figure.data] == ['queue="mail"'] and figure.layout.yaxis.ticksuffix == "k"
    assert _ys(figure)[0][0] == 2.5 and _gapped(_ys(figure)[0])
    assert not work.custom_figure(custom, queue, []).data  # nothing picked: an empty chart that says so
    assert selections([{"name": "queue_depth"}, {"name": "x"}], [['queue="mail"'], None]) == {
        "queue_depth": ['queue="mail"']
    }


def _event(ms: int, status: str) -> StatusEventOut:
    return StatusEventOut(time=datetime.fromtimestamp(ms / 1000, UTC), status=status, reason="")  # type: ignore[arg-type]


def test_offline_spans_are_clipped_to_the_window() -> None:
    events = [
        _event(-5000, "offline"),
        _event(2000, "online"),
        _event(8000, "offline"),
        _event(9000, "online"),
    ]
    assert offline_spans(events, 0, 20_000) == [(0, 2000), (8000, 9000)]
    assert offline_spans([_event(15_000, "offline")], 0, 20_000) == [(15_000, 20_000)]
    assert offline_spans([_event(-9000, "online")], 0, 20_000) == []
    # A repeated "offline" does not restart the stretch.
    assert offline_spans(
        [_event(1000, "offline"), _event(3000, "offline"), _event(4000, "online")], 0, 9000
    ) == [(1000, 4000)]


def test_offline_marks_on_a_figure() -> None:
    figure = host.load_figure(_host())
    add_status_markers(
        figure,
        [_event(-1, "online"), _event(4000, "offline"), _event(10_000, "online")],
        0,
        20_000,
        60,
        label=True,
    )
    shapes = {s.name: s for s in figure.layout.shapes}
    assert set(shapes) == {"offline", "went offline", "went online"}
    band = shapes["offline"]
    assert (band.x0, band.x1) == (3_604_000, 3_610_000) and band.fillcolor == OFFLINE_FILL
    assert band.label.text == "offline"
    assert shapes["went online"].x0 == 3_610_000  # the event before the window is not a line


def test_every_fixed_chart_is_built_and_marked() -> None:
    data = HistoryData(
        host=_host(), cores=None, network=None, disks=None, disk_io=None, containers=None,
        temperatures=_series(TemperatureSeries, sensors=[]), custom=_custom(),
        events=[_event(4000, "offline"), _event(10_000, "online")],
    )  # fmt: skip
    graph_ids = [slot.graph_id for slot in CHARTS]
    assert set(graph_ids) == set(BUILDERS)
    charts = dict(zip(graph_ids, fixed_charts(data, graph_ids, 0, "r"), strict=True))
    cpu, cpu_shown = charts["vps-cpu"]
    assert cpu_shown and any(s.name == "offline" for s in cpu.layout.shapes)
    network, _ = charts["vps-network"]
    assert "could not be read" in network.layout.annotations[0].text  # a failed family says so
    assert not charts["vps-temperatures"][1]  # no sensors: the panel hides
    assert charts["vps-cores"][1]  # unknown (failed) is shown, with its message
    assert not math.isnan(cpu.layout.xaxis.range[1])


def test_samples_sparser_than_the_buckets_are_not_gaps() -> None:
    # The agent samples every 5 s; a zoom asks for 1 s buckets: still one unbroken line,
    # while a minute of silence is still a gap.
    times = [0, 5000, 10_000, 15_000, 75_000, 80_000]
    assert gap_step(times, 1000) == 5000 and gap_step([0, 60_000], 1000) == 1000
    series = msgspec.convert({**WINDOW, "time_ms": times, "cores": [[1.0] * 6]}, CpuCoresSeries)
    (line,) = host.cores_figure(series).data
    assert list(line.y) == [1.0, 1.0, 1.0, 1.0, None, 1.0, 1.0]
