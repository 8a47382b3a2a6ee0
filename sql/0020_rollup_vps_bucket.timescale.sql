-- Community edition: nothing to do. TimescaleDB gives each continuous aggregate an
-- index per GROUP BY column, (vps_id, bucket DESC) among them, which is what the
-- Apache edition's half of this migration adds to its rollup tables.
DO $$ BEGIN NULL; END $$;
