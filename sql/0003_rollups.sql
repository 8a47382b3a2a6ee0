-- Rollup definitions, shared by both TimescaleDB editions.
--
-- Each rollup is described once, by parts, and built from those parts by the
-- edition-specific migration: a continuous aggregate on the Community edition,
-- a plain hypertable refreshed by the collector on the Apache edition. Either
-- way it is queried by the same name with the same columns.
--
-- 1-minute rollups aggregate the raw hypertables. 1-hour rollups re-aggregate
-- the 1-minute ones (averages weighted by sample_count), so refreshing an hour
-- reads 60 rows per series instead of every raw sample.

CREATE TABLE rollup_definitions (
    name          text PRIMARY KEY,
    -- A raw hypertable or another rollup (by name: it may not exist yet).
    source_table  text NOT NULL,
    time_column   text NOT NULL,
    bucket_width  interval NOT NULL,
    -- Columns grouped on besides the bucket (comma-separated, may be empty).
    group_columns text NOT NULL,
    -- Aggregate select list, each item aliased.
    aggregates    text NOT NULL
);

-- Retention per relation: raw hypertables and rollups alike.
CREATE TABLE retention_settings (
    relation text PRIMARY KEY,
    keep     interval NOT NULL CHECK (keep >= INTERVAL '1 hour')
);

-- The time range a rollup has been refreshed up to (Apache edition).
CREATE TABLE rollup_watermarks (
    name      text PRIMARY KEY REFERENCES rollup_definitions (name),
    watermark timestamptz NOT NULL
);

-- Late data, older than the refresh's late-data window: the collector records
-- the earliest time it wrote, in the same transaction, for each rollup of that
-- source, and the next refresh re-aggregates from there (Apache edition).
CREATE TABLE rollup_invalidations (
    rollup       text NOT NULL REFERENCES rollup_definitions (name),
    from_time    timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- The 1-hour form of a 1-minute aggregate list: each item is one line,
-- 'fn(args) AS alias', with fn one of avg, max, min, sum, last or count(*).
CREATE FUNCTION tw_reaggregate(aggregates text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    item text;
    parts text[];
    out text[] := '{}';
BEGIN
    FOREACH item IN ARRAY regexp_split_to_array(btrim(aggregates, E' \n\t'), ',\s*\n\s*') LOOP
        parts := regexp_match(btrim(item, E' \n\t'), '^(avg|max|min|sum|last|count)\((.*)\) AS ([a-z0-9_]+)$');
        IF parts IS NULL THEN
            RAISE EXCEPTION 'rollup aggregate % is not fn(args) AS alias', item;
        END IF;
        out := out || CASE parts[1]
            WHEN 'avg' THEN format('sum(%1$I * sample_count) / nullif(sum(sample_count), 0) AS %1$I', parts[3])
            WHEN 'max' THEN format('max(%1$I) AS %1$I', parts[3])
            WHEN 'min' THEN format('min(%1$I) AS %1$I', parts[3])
            WHEN 'sum' THEN format('sum(%1$I) AS %1$I', parts[3])
            WHEN 'last' THEN format('last(%1$I, bucket) AS %1$I', parts[3])
            ELSE format('sum(%1$I)::bigint AS %1$I', parts[3])
        END;
    END LOOP;
    RETURN array_to_string(out, E',\n');
END $$;

INSERT INTO rollup_definitions (name, source_table, time_column, bucket_width, group_columns, aggregates)
SELECT r.name || '_1m', r.source_table, 'time', INTERVAL '1 minute', r.group_columns, r.aggregates
FROM (VALUES
    ('host_metrics', 'host_metrics', 'vps_id', $a$
        avg(cpu_percent) AS cpu_percent_avg,
        max(cpu_percent) AS cpu_percent_max,
        min(cpu_percent) AS cpu_percent_min,
        avg(cpu_user_percent) AS cpu_user_percent_avg,
        avg(cpu_system_percent) AS cpu_system_percent_avg,
        avg(cpu_iowait_percent) AS cpu_iowait_percent_avg,
        avg(cpu_steal_percent) AS cpu_steal_percent_avg,
        avg(load_1) AS load_1_avg,
        max(load_1) AS load_1_max,
        avg(load_5) AS load_5_avg,
        avg(load_15) AS load_15_avg,
        last(memory_total_bytes, time) AS memory_total_bytes_last,
        avg(memory_used_bytes) AS memory_used_bytes_avg,
        max(memory_used_bytes) AS memory_used_bytes_max,
        min(memory_available_bytes) AS memory_available_bytes_min,
        avg(memory_cached_bytes) AS memory_cached_bytes_avg,
        last(swap_total_bytes, time) AS swap_total_bytes_last,
        avg(swap_used_bytes) AS swap_used_bytes_avg,
        max(swap_used_bytes) AS swap_used_bytes_max,
        avg(tcp_connections) AS tcp_connections_avg,
        max(tcp_connections) AS tcp_connections_max,
        avg(udp_connections) AS udp_connections_avg,
        avg(process_count) AS process_count_avg,
        last(uptime_seconds, time) AS uptime_seconds_last,
        count(*) AS sample_count$a$),
    ('disk_metrics', 'disk_metrics', 'vps_id, mountpoint', $a$
        last(device, time) AS device_last,
        last(total_bytes, time) AS total_bytes_last,
        avg(used_bytes) AS used_bytes_avg,
        max(used_bytes) AS used_bytes_max,
        last(used_bytes, time) AS used_bytes_last,
        last(inodes_total, time) AS inodes_total_last,
        last(inodes_used, time) AS inodes_used_last,
        count(*) AS sample_count$a$),
    ('disk_io_metrics', 'disk_io_metrics', 'vps_id, device', $a$
        avg(read_bytes_per_second) AS read_bytes_per_second_avg,
        max(read_bytes_per_second) AS read_bytes_per_second_max,
        avg(write_bytes_per_second) AS write_bytes_per_second_avg,
        max(write_bytes_per_second) AS write_bytes_per_second_max,
        avg(read_ops_per_second) AS read_ops_per_second_avg,
        avg(write_ops_per_second) AS write_ops_per_second_avg,
        count(*) AS sample_count$a$),
    ('network_metrics', 'network_metrics', 'vps_id, interface', $a$
        avg(rx_bytes_per_second) AS rx_bytes_per_second_avg,
        max(rx_bytes_per_second) AS rx_bytes_per_second_max,
        avg(tx_bytes_per_second) AS tx_bytes_per_second_avg,
        max(tx_bytes_per_second) AS tx_bytes_per_second_max,
        avg(rx_packets_per_second) AS rx_packets_per_second_avg,
        avg(tx_packets_per_second) AS tx_packets_per_second_avg,
        sum(rx_errors) AS rx_errors_sum,
        sum(tx_errors) AS tx_errors_sum,
        sum(rx_drops) AS rx_drops_sum,
        sum(tx_drops) AS tx_drops_sum,
        sum(rx_bytes_delta) AS rx_bytes_sum,
        sum(tx_bytes_delta) AS tx_bytes_sum,
        count(*) AS sample_count$a$),
    ('container_metrics', 'container_metrics', 'vps_id, container_id', $a$
        avg(cpu_percent) AS cpu_percent_avg,
        max(cpu_percent) AS cpu_percent_max,
        avg(memory_usage_bytes) AS memory_usage_bytes_avg,
        max(memory_usage_bytes) AS memory_usage_bytes_max,
        last(memory_limit_bytes, time) AS memory_limit_bytes_last,
        last(network_rx_bytes, time) AS network_rx_bytes_last,
        last(network_tx_bytes, time) AS network_tx_bytes_last,
        last(block_read_bytes, time) AS block_read_bytes_last,
        last(block_write_bytes, time) AS block_write_bytes_last,
        max(pids) AS pids_max,
        count(*) AS sample_count$a$)
) AS r (name, source_table, group_columns, aggregates);

INSERT INTO rollup_definitions (name, source_table, time_column, bucket_width, group_columns, aggregates)
SELECT replace(name, '_1m', '_1h'), name, 'bucket', INTERVAL '1 hour', group_columns, tw_reaggregate(aggregates)
FROM rollup_definitions;

INSERT INTO retention_settings (relation, keep)
SELECT source_table, INTERVAL '7 days' FROM (VALUES
    ('host_metrics'), ('disk_metrics'), ('disk_io_metrics'), ('network_metrics'),
    ('temperature_metrics'), ('container_metrics'), ('generic_metrics'), ('ingested_batches')
) AS t (source_table)
UNION ALL
SELECT name, CASE WHEN bucket_width = INTERVAL '1 minute' THEN INTERVAL '90 days' ELSE INTERVAL '730 days' END
FROM rollup_definitions;

-- The SELECT that computes a rollup, optionally limited to [from_time, to_time).
CREATE FUNCTION tw_rollup_query(rollup text, from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    d rollup_definitions;
    range_filter text := '';
    groups text;
BEGIN
    SELECT * INTO STRICT d FROM rollup_definitions WHERE name = rollup;
    groups := CASE WHEN d.group_columns = '' THEN '' ELSE ', ' || d.group_columns END;
    IF from_time IS NOT NULL THEN
        range_filter := format(' WHERE %I >= %L AND %I < %L', d.time_column, from_time, d.time_column, to_time);
    END IF;
    RETURN format(
        'SELECT time_bucket(%1$L::interval, %2$I) AS bucket%3$s, %4$s FROM %5$I%6$s GROUP BY time_bucket(%1$L::interval, %2$I)%3$s',
        d.bucket_width, d.time_column, groups, d.aggregates, d.source_table, range_filter);
END $$;

-- Record that rows from ``earliest`` on were written late into ``source``
-- (a raw table or a rollup): every rollup built on it re-aggregates from there.
CREATE FUNCTION tw_record_late_data(source text, earliest timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rollup_invalidations (rollup, from_time)
    SELECT name, earliest FROM rollup_definitions WHERE source_table = source
$$;

CREATE FUNCTION tw_record_late_data(source regclass, earliest timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT tw_record_late_data(source::text, earliest) $$;

-- Which TimescaleDB edition this is: 'timescale' (Community) or 'apache'.
CREATE FUNCTION tw_timescaledb_edition() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT current_setting('timescaledb.license', true)
$$;
