-- Host facts the agent had to escape (not valid UTF-8, or control characters),
-- as HostInfo.sanitised_fields names them: e.g. {hostname, mount_point}.
-- Rewritten at every connect; empty when every fact was clean text.
ALTER TABLE vps ADD COLUMN sanitised_fields text[] NOT NULL DEFAULT '{}';
