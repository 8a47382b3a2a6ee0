-- Shared memory (tmpfs, shm) per host sample (issue 12: the metric registry's worked example).
-- Rows from before this migration, and from agents that do not send it, hold 0.
--
-- Not rolled up, on either edition: a Community-edition continuous aggregate
-- cannot gain a column (TimescaleDB 2.19 has no ALTER MATERIALIZED VIEW ...
-- ADD COLUMN), and recreating it would lose rollup history older than raw
-- retention. One registry describes both editions, so common/metric_tables.py
-- says "no rollup" for this column and the API returns nulls for it at the
-- 1m and 1h resolutions.
ALTER TABLE host_metrics ADD COLUMN memory_shared_bytes bigint NOT NULL DEFAULT 0;
