-- Apache edition: watermarks load cleanly, readers see them, and TimescaleDB's
-- own jobs are checked (the collector keeps rollups and retention itself here).
-- Watermarks: NULL now means "never refreshed". '-infinity' could not be read
-- by clients (psycopg: "timestamp too small"), so it is gone and refused.
ALTER TABLE rollup_watermarks ALTER COLUMN watermark DROP NOT NULL;
UPDATE rollup_watermarks SET watermark = NULL WHERE NOT isfinite(watermark);
ALTER TABLE rollup_watermarks ADD CONSTRAINT rollup_watermarks_finite CHECK (isfinite(watermark));

-- docs/sql.md tells analysts to read rollups up to their watermark.
GRANT SELECT ON rollup_watermarks TO tidewatch_reader;

-- Late data records the range it touched, so the Community edition refreshes
-- exactly that range (NULL: up to now, as rows recorded before this migration).
ALTER TABLE rollup_invalidations ADD COLUMN to_time timestamptz;

CREATE FUNCTION tw_record_late_data(source text, earliest timestamptz, latest timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO rollup_invalidations (rollup, from_time, to_time)
    SELECT name, earliest, latest FROM rollup_definitions WHERE source_table = source
$$;

-- TimescaleDB jobs that failed last time, or have not succeeded for three of
-- their intervals (at least an hour): the collector exports them as metrics and
-- the API's health reports them. Correctness never waits on these jobs (the
-- collector's maintenance refreshes and applies retention itself), but a
-- failing job means the database is not doing what it is configured to do.
CREATE FUNCTION tw_job_problems()
RETURNS TABLE (job_id integer, job_name text, problem text, total_failures bigint,
               seconds_since_success double precision)
LANGUAGE sql STABLE AS $$
    SELECT j.job_id,
           j.application_name,
           CASE WHEN s.last_run_status = 'Failed' THEN 'failing' ELSE 'stale' END,
           s.total_failures,
           CASE WHEN isfinite(s.last_successful_finish)
                THEN extract(epoch FROM now() - s.last_successful_finish)::double precision END
    FROM timescaledb_information.jobs j
    JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
    WHERE j.scheduled
      -- TimescaleDB's own jobs below 1000 include TSL-only ones (job history
      -- retention) that always fail on this edition; Tidewatch needs none of them.
      AND j.job_id >= 1000
      AND (s.last_run_status = 'Failed'
           OR (isfinite(s.last_successful_finish)
               AND now() - s.last_successful_finish > greatest(3 * j.schedule_interval, INTERVAL '1 hour')))
    ORDER BY j.job_id
$$;

-- As in 0004, with "never refreshed" spelled NULL instead of '-infinity'.
CREATE OR REPLACE FUNCTION tw_refresh_rollup(rollup text, late_window interval)
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

    IF mark IS NULL THEN
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
    IF mark IS NOT NULL AND from_time < time_bucket(d.bucket_width, mark - late_window) THEN
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
