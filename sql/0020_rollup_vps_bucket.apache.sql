-- Apache edition: an index on (vps_id, bucket DESC) for every rollup table with a
-- series key (interface, mount point, device, container). Their key index leads with
-- (vps_id, <series key>, ...), so a range query for one VPS over all its series could
-- only use it by reading every bucket of that VPS in each chunk; the planner took the
-- (bucket DESC) index instead and filtered out the other 199 VPS (network 24 h: 286,560
-- rows read and dropped for 1,440 kept). The Community edition's continuous aggregates
-- already have such an index (TimescaleDB creates one per GROUP BY column).
DO $$
DECLARE
    d rollup_definitions;
BEGIN
    FOR d IN SELECT * FROM rollup_definitions WHERE group_columns <> 'vps_id' ORDER BY name LOOP
        EXECUTE format('CREATE INDEX %I ON %I (vps_id, bucket DESC)', d.name || '_vps_bucket', d.name);
    END LOOP;
END $$;
