"""The collector's own Prometheus metrics, served on ``metrics_listen``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from common.listen import split_listen

__all__ = [
    "AGENTS_CONNECTED",
    "AGENT_CLOCK_OFFSET",
    "AGENT_REJECTED_BATCHES",
    "BATCHES",
    "BUNDLES",
    "DB_UP",
    "FLUSH_SECONDS",
    "INGEST_LAG",
    "MAINTENANCE_SUCCESS_TIME",
    "QUEUE_ROWS",
    "ROWS",
    "TIMESCALEDB_JOB_PROBLEMS",
    "serve_metrics",
]

ROWS = Counter("tidewatch_collector_rows_total", "Metric rows committed, by table", ["table"])
BATCHES = Counter(
    "tidewatch_collector_batches_total",
    "Batches acknowledged or refused, by outcome (stored, duplicate, rejected) and reason",
    ["outcome", "reason"],
)
BUNDLES = Counter(
    "tidewatch_collector_batch_bundles_total",
    "BatchBundle messages received (several batches in one message; each batch also counts above)",
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
DB_UP = Gauge(
    "tidewatch_collector_database_up",
    "0 while the database does not answer the collector (refused, or no answer within a time limit)",
)
DB_UP.set(1)
MAINTENANCE_SUCCESS_TIME = Gauge(
    "tidewatch_collector_maintenance_last_success_timestamp_seconds",
    "When this collector last finished a rollup refresh and retention pass",
)
TIMESCALEDB_JOB_PROBLEMS = Gauge(
    "tidewatch_collector_timescaledb_job_problem",
    "1 for each TimescaleDB job whose last run failed or that has not succeeded lately (problem: failing, stale)",
    ["job", "problem"],
)
# Per VPS, for agents this collector holds: alert on abs(...) > 300 (common.clock.CLOCK_SKEW_LIMIT_MS).
AGENT_CLOCK_OFFSET = Gauge(
    "tidewatch_collector_agent_clock_offset_seconds",
    "Collector time minus the agent's clock (negative: the agent is ahead); samples are stored corrected",
    ["vps_id"],
)
AGENT_REJECTED_BATCHES = Counter(
    "tidewatch_collector_agent_rejected_batches_total",
    "Batches refused for good (OUTCOME_REJECTED; the agent drops them), per VPS",
    ["vps_id"],
)


def serve_metrics(listen: str) -> None:
    """Expose /metrics on ``host:port`` (a background thread)."""
    host, port = split_listen(listen)
    start_http_server(port, addr=host)
