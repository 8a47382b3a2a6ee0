-- A read-only role for analysts, Grafana and pandas: metrics, rollups, VPS
-- records and events, but never password or token hashes.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tidewatch_reader') THEN
        CREATE ROLE tidewatch_reader NOLOGIN;
    END IF;
END $$;

CREATE VIEW vps_inventory AS
SELECT id AS vps_id, name, ip_address, labels, hostname, os_name, os_version, kernel_version,
       architecture, cpu_model, cpu_physical_cores, cpu_logical_cores, memory_total_bytes,
       swap_total_bytes, boot_time, ip_addresses, virtualization, agent_version, online,
       last_seen, traffic_reset_day, traffic_quota_bytes, created_at
FROM vps;

GRANT USAGE ON SCHEMA public TO tidewatch_reader;
GRANT SELECT ON vps_inventory, vps_status_events, containers, container_events,
    host_metrics, disk_metrics, disk_io_metrics, network_metrics, temperature_metrics,
    container_metrics, generic_metrics, rollup_definitions, retention_settings
    TO tidewatch_reader;

DO $$
DECLARE
    d rollup_definitions;
BEGIN
    FOR d IN SELECT * FROM rollup_definitions LOOP
        EXECUTE format('GRANT SELECT ON %I TO tidewatch_reader', d.name);
    END LOOP;
END $$;
