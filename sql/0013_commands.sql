-- Commands from the API: the full lifecycle, output chunks in order, expiry,
-- which collector dispatched each; per-VPS agent counters and allowed kinds.

ALTER TABLE commands
    ADD COLUMN args          jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN requested_by_name text NOT NULL DEFAULT '',
    ADD COLUMN expires_at    timestamptz,
    ADD COLUMN dispatched_by text,
    ADD COLUMN dispatched_stream text,
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN output_bytes  bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_chunk    integer NOT NULL DEFAULT -1,
    ADD COLUMN cancel_of     uuid REFERENCES commands (id) ON DELETE CASCADE;

ALTER TABLE commands ADD CONSTRAINT commands_status_known CHECK (status IN (
    'pending', 'dispatched', 'accepted', 'running',
    'succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'expired'));

CREATE INDEX commands_in_flight ON commands (vps_id)
    WHERE status IN ('dispatched', 'accepted', 'running');

-- Each output chunk as the agent numbered it: a live client reads "after seq N",
-- so it gets nothing twice and misses nothing. Capped like commands.stdout.
CREATE TABLE command_output (
    command_id uuid NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    time       timestamptz NOT NULL DEFAULT now(),
    stdout     text NOT NULL DEFAULT '',
    stderr     text NOT NULL DEFAULT '',
    PRIMARY KEY (command_id, seq)
);

-- The newest heartbeat counters of each agent, and what its handshake allows.
CREATE TABLE vps_agent_state (
    vps_id                         bigint PRIMARY KEY REFERENCES vps (id) ON DELETE CASCADE,
    local_features                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    features_at                    timestamptz,
    heartbeat_at                   timestamptz,
    pending_batches                bigint NOT NULL DEFAULT 0,
    spooled_bytes                  bigint NOT NULL DEFAULT 0,
    dropped_batches_total          bigint NOT NULL DEFAULT 0,
    docker_sample_overruns_total   bigint NOT NULL DEFAULT 0,
    control_messages_dropped_total bigint NOT NULL DEFAULT 0
);

GRANT SELECT ON vps_agent_state TO tidewatch_reader;
-- Analysts see what ran where and how it ended, but not the arguments or output
-- (they may carry secrets).
GRANT SELECT (id, vps_id, requested_by, kind, status, exit_code, output_truncated, error_message,
              created_at, dispatched_at, started_at, finished_at, expires_at, dispatched_by)
    ON commands TO tidewatch_reader;
