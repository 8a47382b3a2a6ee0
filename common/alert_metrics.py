"""The metrics a threshold rule can watch: where each lives and how its value is computed.

One entry per metric, declared once; the API validates rules against it and the
evaluator builds its SQL from it. ``value`` reads a raw hypertable, ``rollup_value``
the matching 1-minute rollup (used for long durations).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONTAINER_STATE_METRICS",
    "GENERIC_PREFIX",
    "METRICS",
    "AlertMetric",
    "is_known_metric",
    "item_label_key",
]

GENERIC_PREFIX = "generic:"


@dataclass(frozen=True, slots=True)
class AlertMetric:
    name: str
    unit: str
    table: str
    value: str
    rollup: str
    rollup_value: str
    # The column that splits a VPS into items (one event each), and the label
    # name rules use to narrow it; empty for host-wide metrics.
    item_column: str = ""
    item_label: str = ""


def _host(name: str, unit: str, value: str, rollup_value: str) -> AlertMetric:
    return AlertMetric(name, unit, "host_metrics", value, "host_metrics_1m", rollup_value)


def _disk(name: str, unit: str, value: str, rollup_value: str) -> AlertMetric:
    return AlertMetric(
        name, unit, "disk_metrics", value, "disk_metrics_1m", rollup_value, "mountpoint", "mountpoint"
    )


def _net(name: str, value: str, rollup_value: str) -> AlertMetric:
    return AlertMetric(
        name, "B/s", "network_metrics", value, "network_metrics_1m", rollup_value, "interface", "interface"
    )


def _container(name: str, unit: str, value: str, rollup_value: str) -> AlertMetric:
    return AlertMetric(
        name,
        unit,
        "container_metrics",
        value,
        "container_metrics_1m",
        rollup_value,
        "container_id",
        "container",
    )


METRICS: dict[str, AlertMetric] = {
    m.name: m
    for m in (
        _host("cpu_percent", "%", "cpu_percent", "cpu_percent_avg"),
        _host(
            "memory_percent",
            "%",
            "100.0 * memory_used_bytes / nullif(memory_total_bytes, 0)",
            "100.0 * memory_used_bytes_avg / nullif(memory_total_bytes_last, 0)",
        ),
        _host(
            "swap_percent",
            "%",
            "100.0 * swap_used_bytes / nullif(swap_total_bytes, 0)",
            "100.0 * swap_used_bytes_avg / nullif(swap_total_bytes_last, 0)",
        ),
        _host("load_1", "", "load_1", "load_1_avg"),
        _host("load_5", "", "load_5", "load_5_avg"),
        _host("load_15", "", "load_15", "load_15_avg"),
        _host("tcp_connections", "", "tcp_connections", "tcp_connections_avg"),
        _host("udp_connections", "", "udp_connections", "udp_connections_avg"),
        _disk(
            "disk_used_percent",
            "%",
            "100.0 * used_bytes / nullif(total_bytes, 0)",
            "100.0 * used_bytes_last / nullif(total_bytes_last, 0)",
        ),
        _disk("disk_free_bytes", "B", "free_bytes", "total_bytes_last - used_bytes_last"),
        _disk(
            "inodes_used_percent",
            "%",
            "100.0 * inodes_used / nullif(inodes_total, 0)",
            "100.0 * inodes_used_last / nullif(inodes_total_last, 0)",
        ),
        _net("net_rx_bytes_per_second", "rx_bytes_per_second", "rx_bytes_per_second_avg"),
        _net("net_tx_bytes_per_second", "tx_bytes_per_second", "tx_bytes_per_second_avg"),
        _container("container_cpu_percent", "%", "cpu_percent", "cpu_percent_avg"),
        _container("container_memory_bytes", "B", "memory_usage_bytes", "memory_usage_bytes_avg"),
        _container(
            "container_memory_percent",
            "%",
            "100.0 * memory_usage_bytes / nullif(memory_limit_bytes, 0)",
            "100.0 * memory_usage_bytes_avg / nullif(memory_limit_bytes_last, 0)",
        ),
    )
}

# State checks on the containers table rather than a series: the value is 1 while the
# container is not running (or restarted within the duration), else 0.
CONTAINER_STATE_METRICS = ("container_not_running", "container_restarting")


def is_known_metric(name: str) -> bool:
    """A catalogue metric, a container state check, or ``generic:<name>``."""
    if name.startswith(GENERIC_PREFIX):
        return 0 < len(name) - len(GENERIC_PREFIX) <= 200
    return name in METRICS or name in CONTAINER_STATE_METRICS


def item_label_key(name: str) -> str:
    """The label a rule uses to pick items of this metric ('' when host-wide)."""
    metric = METRICS.get(name)
    if metric is not None:
        return metric.item_label
    return "container" if name in CONTAINER_STATE_METRICS else ""
