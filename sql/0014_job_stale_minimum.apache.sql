-- Apache edition. A job is stale after three of its intervals, and at
-- least tw_job_stale_minimum(): one hour unless the connection sets
-- tidewatch.job_stale_minimum (an interval; e.g. libpq options=-c
-- tidewatch.job_stale_minimum=10min, or ALTER DATABASE ... SET as a superuser).
-- Tests shorten it to see a real stale job without waiting an hour.
CREATE FUNCTION tw_job_stale_minimum() RETURNS interval LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('tidewatch.job_stale_minimum', true), '')::interval,
                    INTERVAL '1 hour')
$$;

CREATE OR REPLACE FUNCTION tw_job_problems()
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
               AND now() - s.last_successful_finish > greatest(3 * j.schedule_interval,
                                                            tw_job_stale_minimum())))
    ORDER BY j.job_id
$$;
