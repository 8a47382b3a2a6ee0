-- Community edition: native continuous aggregates with refresh, retention and
-- compression policies. Same names and columns as the Apache edition's tables.

DO $$
DECLARE
    d rollup_definitions;
    r retention_settings;
    raw text;
BEGIN
    -- 1-minute aggregates first: the 1-hour ones are hierarchical, built on them.
    FOR d IN SELECT * FROM rollup_definitions ORDER BY bucket_width, name LOOP
        EXECUTE format(
            'CREATE MATERIALIZED VIEW %I WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS %s WITH NO DATA',
            d.name, tw_rollup_query(d.name));
        IF d.bucket_width < INTERVAL '1 hour' THEN
            PERFORM add_continuous_aggregate_policy(d.name::regclass,
                start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute',
                schedule_interval => INTERVAL '1 minute');
        ELSE
            PERFORM add_continuous_aggregate_policy(d.name::regclass,
                start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
                schedule_interval => INTERVAL '30 minutes');
        END IF;
        INSERT INTO rollup_watermarks (name, watermark) VALUES (d.name, '-infinity');
    END LOOP;

    FOR r IN SELECT * FROM retention_settings ORDER BY relation LOOP
        PERFORM add_retention_policy(r.relation::regclass, r.keep);
    END LOOP;

    FOREACH raw IN ARRAY ARRAY['host_metrics', 'disk_metrics', 'disk_io_metrics', 'network_metrics',
                               'temperature_metrics', 'container_metrics', 'generic_metrics'] LOOP
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                       raw, 'vps_id', 'time DESC');
        PERFORM add_compression_policy(raw::regclass, INTERVAL '2 days');
    END LOOP;
END $$;

-- Native policies do this work on this edition; these keep one call site for both.
CREATE FUNCTION tw_refresh_rollup(rollup text, late_window interval)
RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$;

CREATE FUNCTION tw_apply_retention() RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
