-- Watch mode: while a browser views a VPS live, its agent sends each snapshot at
-- once instead of batching. Each API instance keeps one lease per VPS its sockets
-- watch, renews it while they do, and on the last viewer's leave shortens it to a
-- grace period. A lease left by a crashed instance simply expires. The collector
-- holding the agent's stream treats an unexpired lease as "watched" (NOTIFY
-- tidewatch_agent_config is only the hint to look).
CREATE TABLE live_watch_leases (
    vps_id       bigint NOT NULL REFERENCES vps (id) ON DELETE CASCADE,
    api_instance text NOT NULL CHECK (length(api_instance) BETWEEN 1 AND 64),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (vps_id, api_instance)
);
CREATE INDEX live_watch_leases_expires_at ON live_watch_leases (expires_at);
