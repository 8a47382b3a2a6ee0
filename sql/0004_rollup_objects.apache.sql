-- Apache edition: no continuous aggregates or policies. Each rollup is a plain
-- hypertable with the same name and columns as the Community edition's
-- continuous aggregate; the collector refreshes it with tw_refresh_rollup()
-- and applies retention with tw_apply_retention().

DO $$
DECLARE
    d rollup_definitions;
BEGIN
    -- 1-minute rollups first: the 1-hour ones are built from them.
    FOR d IN SELECT * FROM rollup_definitions ORDER BY bucket_width, name LOOP
        EXECUTE format('CREATE TABLE %I AS %s WITH NO DATA', d.name, tw_rollup_query(d.name));
        EXECUTE format('ALTER TABLE %I ALTER COLUMN bucket SET NOT NULL', d.name);
        PERFORM create_hypertable(d.name::regclass, by_range('bucket',
            CASE WHEN d.bucket_width < INTERVAL '1 hour' THEN INTERVAL '7 days' ELSE INTERVAL '90 days' END));
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (%s, bucket DESC)', d.name || '_key', d.name, d.group_columns);
        INSERT INTO rollup_watermarks (name, watermark) VALUES (d.name, '-infinity');
    END LOOP;
END $$;

-- Re-aggregate one rollup from its watermark (less the late-data window, or
-- from the earliest recorded invalidation) up to now. Returns the buckets written.
-- The collector records late data for rows older than half the late window
-- when it writes them, so everything newer is covered by this window.
CREATE FUNCTION tw_refresh_rollup(rollup text, late_window interval)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    d rollup_definitions;
    mark timestamptz;
    invalid_from timestamptz;
    from_time timestamptz;
    to_time timestamptz;
    written bigint;
BEGIN
    SELECT * INTO STRICT d FROM rollup_definitions WHERE name = rollup;
    SELECT watermark INTO STRICT mark FROM rollup_watermarks WHERE name = rollup FOR UPDATE;
    WITH consumed AS (
        DELETE FROM rollup_invalidations i WHERE i.rollup = d.name RETURNING i.from_time
    )
    SELECT min(c.from_time) INTO invalid_from FROM consumed c;

    IF mark = '-infinity' THEN
        EXECUTE format('SELECT min(%I) FROM %I', d.time_column, d.source_table) INTO from_time;
        IF from_time IS NULL THEN
            RETURN 0;
        END IF;
    ELSE
        from_time := mark - late_window;
    END IF;
    from_time := time_bucket(d.bucket_width, least(from_time, invalid_from));
    -- Rewriting buckets below this rollup's own window changes what rollups
    -- built on it saw: pass the invalidation on.
    IF mark <> '-infinity' AND from_time < time_bucket(d.bucket_width, mark - late_window) THEN
        PERFORM tw_record_late_data(rollup, from_time);
    END IF;
    to_time := time_bucket(d.bucket_width, now()) + d.bucket_width;

    EXECUTE format('DELETE FROM %I WHERE bucket >= %L AND bucket < %L', rollup, from_time, to_time);
    EXECUTE format('INSERT INTO %I %s', rollup, tw_rollup_query(rollup, from_time, to_time));
    GET DIAGNOSTICS written = ROW_COUNT;
    -- The current bucket is still filling: start there next time.
    UPDATE rollup_watermarks SET watermark = time_bucket(d.bucket_width, now()) WHERE name = rollup;
    RETURN written;
END $$;

-- Drop chunks older than each relation's retention. Returns chunks dropped.
CREATE FUNCTION tw_apply_retention() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r retention_settings;
    dropped integer := 0;
BEGIN
    FOR r IN SELECT * FROM retention_settings ORDER BY relation LOOP
        dropped := dropped + (SELECT count(*) FROM drop_chunks(r.relation::regclass, older_than => now() - r.keep));
    END LOOP;
    RETURN dropped;
END $$;
