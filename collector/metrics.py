"""The collector's own Prometheus metrics, served on ``metrics_listen``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from common.listen import split_listen

__all__ = [
    "AGENTS_CONNECTED",
    "BATCHES",
    "DB_UP",
    "FLUSH_SECONDS",
    "INGEST_LAG",
    "QUEUE_ROWS",
    "ROWS",
    "serve_metrics",
]

ROWS = Counter("tidewatch_collector_rows_total", "Metric rows committed, by table", ["table"])
BATCHES = Counter(
    "tidewatch_collector_batches_total",
    "Batches acknowledged or refused, by outcome (stored, duplicate, rejected) and reason",
    ["outcome", "reason"],
)
QUEUE_ROWS = Gauge("tidewatch_collector_queue_rows", "Rows accepted and waiting for the database")
INGEST_LAG = Histogram(
    "tidewatch_collector_ingest_lag_seconds",
    "From a batch's earliest sample to its commit",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 3600),
)
FLUSH_SECONDS = Histogram(
    "tidewatch_collector_flush_seconds",
    "Duration of one ingest transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
AGENTS_CONNECTED = Gauge("tidewatch_collector_agents_connected", "Agent streams held by this collector")
DB_UP = Gauge("tidewatch_collector_database_up", "1 while the last ingest transaction succeeded")
DB_UP.set(1)


def serve_metrics(listen: str) -> None:
    """Expose /metrics on ``host:port`` (a background thread)."""
    host, port = split_listen(listen)
    start_http_server(port, addr=host)
