-- Relational core: users, VPS records, agent sessions, commands, audit.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens for the API (sessions from login, and long-lived tokens).
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id       text NOT NULL UNIQUE,
    token_hash   text NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE vps (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    ip_address          text NOT NULL DEFAULT '',
    -- Agent token = 'tw_' || agent_key_id || '.' || secret; only an argon2 hash of it is kept.
    agent_key_id        text NOT NULL UNIQUE,
    agent_token_hash    text NOT NULL,
    token_rotated_at    timestamptz NOT NULL DEFAULT now(),
    labels              jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          bigint REFERENCES users (id) ON DELETE SET NULL,
    -- Reported by the agent at connect.
    hostname            text,
    os_name             text,
    os_version          text,
    kernel_version      text,
    architecture        text,
    cpu_model           text,
    cpu_physical_cores  integer,
    cpu_logical_cores   integer,
    memory_total_bytes  bigint,
    swap_total_bytes    bigint,
    boot_time           timestamptz,
    ip_addresses        text[] NOT NULL DEFAULT '{}',
    virtualization      text,
    agent_version       text,
    -- Session state, kept by the collector that holds the agent's stream.
    online              boolean NOT NULL DEFAULT false,
    last_seen           timestamptz,
    connected_collector text,
    connected_at        timestamptz,
    -- Monthly traffic: the day of month the quota resets, and the quota.
    traffic_reset_day   smallint NOT NULL DEFAULT 1 CHECK (traffic_reset_day BETWEEN 1 AND 28),
    traffic_quota_bytes bigint CHECK (traffic_quota_bytes IS NULL OR traffic_quota_bytes > 0)
);

-- Online and offline transitions from heartbeat timeouts.
CREATE TABLE vps_status_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vps_id    bigint NOT NULL REFERENCES vps (id) ON DELETE CASCADE,
    time      timestamptz NOT NULL DEFAULT now(),
    status    text NOT NULL CHECK (status IN ('online', 'offline')),
    reason    text NOT NULL DEFAULT ''
);
CREATE INDEX vps_status_events_vps_time ON vps_status_events (vps_id, time DESC);

CREATE TABLE commands (
    id            uuid PRIMARY KEY,
    vps_id        bigint NOT NULL REFERENCES vps (id) ON DELETE CASCADE,
    requested_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    kind          text NOT NULL,
    -- The CommandRequest, as JSON (protobuf JSON mapping).
    request       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending',
    exit_code     integer,
    stdout        text NOT NULL DEFAULT '',
    stderr        text NOT NULL DEFAULT '',
    output_truncated boolean NOT NULL DEFAULT false,
    error_message text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz,
    finished_at   timestamptz
);
CREATE INDEX commands_vps_created ON commands (vps_id, created_at DESC);
CREATE INDEX commands_pending ON commands (vps_id) WHERE status = 'pending';

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time       timestamptz NOT NULL DEFAULT now(),
    user_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    client_ip  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_time ON audit_log (time DESC);
