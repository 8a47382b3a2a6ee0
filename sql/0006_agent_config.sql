-- Per-VPS agent configuration overrides, merged over the collector's fleet
-- defaults and pushed to the agent live (NOTIFY tidewatch_agent_config, '<vps_id>').
-- Keys follow AgentConfig: snapshot_interval_ms, docker_interval_ms,
-- heartbeat_interval_ms, batch_max_snapshots, batch_max_delay_ms, and
-- features: {docker, shell, script, pty, files, docker_control}.
ALTER TABLE vps ADD COLUMN agent_config jsonb NOT NULL DEFAULT '{}'::jsonb;
