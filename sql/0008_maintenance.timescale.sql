-- Community edition: correctness without background workers. The collector's
-- maintenance refreshes the continuous aggregates itself over the windows late
-- data touched (CALL refresh_continuous_aggregate, which cannot run inside a
-- function) and calls tw_apply_retention(), which now follows retention_settings:
-- it replaces any retention policy whose interval differs, then drops the chunks
-- the policy would. Policies stay as a second line; on PostgreSQL 17.12 they fail
-- (docs/timescaledb.md), and tw_job_problems() reports it.
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
      AND (s.last_run_status = 'Failed'
           OR (isfinite(s.last_successful_finish)
               AND now() - s.last_successful_finish > greatest(3 * j.schedule_interval, INTERVAL '1 hour')))
    ORDER BY j.job_id
$$;

-- The retention policy's interval for a hypertable or continuous aggregate (NULL: none).
CREATE FUNCTION tw_retention_policy_keep(relation text) RETURNS interval LANGUAGE sql STABLE AS $$
    SELECT (j.config ->> 'drop_after')::interval
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'policy_retention'
      AND j.hypertable_name = coalesce(
          (SELECT c.materialization_hypertable_name FROM timescaledb_information.continuous_aggregates c
           WHERE c.view_name = relation),
          relation)
$$;

CREATE OR REPLACE FUNCTION tw_apply_retention() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r retention_settings;
    dropped integer := 0;
BEGIN
    FOR r IN SELECT * FROM retention_settings ORDER BY relation LOOP
        BEGIN
            IF tw_retention_policy_keep(r.relation) IS DISTINCT FROM r.keep THEN
                PERFORM remove_retention_policy(r.relation::regclass, if_exists => true);
                PERFORM add_retention_policy(r.relation::regclass, r.keep);
            END IF;
            dropped := dropped + (SELECT count(*) FROM drop_chunks(r.relation::regclass, older_than => now() - r.keep));
        EXCEPTION WHEN internal_error OR lock_not_available OR deadlock_detected THEN
            -- A policy job working on the same chunks at this moment ("tuple
            -- concurrently updated"): the next pass does this relation.
            RAISE WARNING 'retention of % left for the next pass: %', r.relation, SQLERRM;
        END;
    END LOOP;
    RETURN dropped;
END $$;
