-- Alerts: rules, channels, events, deliveries, silences; billing facts and the
-- rest of the traffic quota; collector liveness for offline suppression.
--
-- Exactly-once: an event is open at most once per (rule, target) (partial
-- unique index), and a notification is one alert_deliveries row per
-- (event, channel, transition), inserted in the transaction that opens or
-- resolves the event and claimed by a sender with FOR UPDATE SKIP LOCKED.

-- Each collector upserts its row from its housekeeping loop. up_since restarts
-- when the collector starts or its heartbeat had stopped (a database blip), so
-- offline alerts wait a grace period after either.
CREATE TABLE collector_instances (
    collector_id text PRIMARY KEY,
    up_since     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- The rest of the monthly traffic quota (reset day and bytes are in 0001).
ALTER TABLE vps
    ADD COLUMN traffic_quota_direction text NOT NULL DEFAULT 'total'
        CHECK (traffic_quota_direction IN ('in', 'out', 'max', 'total')),
    ADD COLUMN traffic_timezone text NOT NULL DEFAULT 'UTC' CHECK (length(traffic_timezone) BETWEEN 1 AND 64),
    ADD COLUMN traffic_warn_percents double precision[] NOT NULL DEFAULT '{80,100}';

CREATE TABLE vps_billing (
    vps_id     bigint PRIMARY KEY REFERENCES vps (id) ON DELETE CASCADE,
    provider   text NOT NULL DEFAULT '' CHECK (length(provider) <= 128),
    price      numeric(14, 2) CHECK (price IS NULL OR price >= 0),
    currency   text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    cycle      text NOT NULL DEFAULT 'monthly'
        CHECK (cycle IN ('monthly', 'quarterly', 'semiannual', 'yearly', 'biennial', 'triennial', 'once')),
    expires_on date,
    auto_renew boolean NOT NULL DEFAULT false,
    notes      text NOT NULL DEFAULT '' CHECK (length(notes) <= 1000),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_channels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    kind       text NOT NULL CHECK (kind IN ('email', 'webhook', 'telegram', 'discord', 'slack')),
    -- What may be shown: addresses, hosts, chat ids, templates.
    config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Passwords, bot tokens, webhook URLs that embed a key, HMAC keys: never
    -- returned by the API and not granted to the reader role.
    secret     jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by bigint REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE alert_rules (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    kind               text NOT NULL CHECK (kind IN ('offline', 'threshold', 'traffic', 'disk_full', 'renewal')),
    enabled            boolean NOT NULL DEFAULT true,
    -- Scope, resolved at each evaluation: one VPS, else a label selector
    -- (every pair must match), else ({}) the whole fleet.
    scope_vps_id       bigint REFERENCES vps (id) ON DELETE CASCADE,
    scope_labels       jsonb NOT NULL DEFAULT '{}'::jsonb,
    metric             text NOT NULL DEFAULT '',
    -- Narrows a metric's items: {"mountpoint": "/"}, {"interface": "eth0"},
    -- {"container": "web"}, or a generic metric's labels.
    metric_labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
    comparator         text NOT NULL DEFAULT '>' CHECK (comparator IN ('>', '>=', '<', '<=')),
    threshold          double precision,
    duration_s         double precision NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
    -- Hysteresis: resolve only once the value is back past this (default:
    -- the threshold) for this long (default: the duration).
    resolve_threshold  double precision,
    resolve_duration_s double precision CHECK (resolve_duration_s IS NULL OR resolve_duration_s >= 0),
    -- NULL: notify once; else again every so often while firing and unacknowledged.
    repeat_every_s     double precision CHECK (repeat_every_s IS NULL OR repeat_every_s >= 60),
    -- Kind-specific: grace_s (offline), horizon_hours (disk_full), days_before (renewal).
    params             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    created_by         bigint REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE alert_rule_channels (
    rule_id    bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);

CREATE TABLE alert_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id          bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    vps_id           bigint REFERENCES vps (id) ON DELETE CASCADE,
    -- 'vps:3', 'vps:3/mountpoint=/', 'fleet', 'collector'.
    target_key       text NOT NULL,
    target_label     text NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    value            double precision,
    peak_value       double precision,
    summary          text NOT NULL DEFAULT '',
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    acknowledged_at  timestamptz,
    acknowledged_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    last_notified_at timestamptz,
    repeat_count     integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alert_events_one_open ON alert_events (rule_id, target_key) WHERE resolved_at IS NULL;
CREATE INDEX alert_events_started ON alert_events (started_at DESC);
CREATE INDEX alert_events_vps_started ON alert_events (vps_id, started_at DESC);

CREATE TABLE alert_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for a test send.
    event_id        bigint REFERENCES alert_events (id) ON DELETE CASCADE,
    channel_id      bigint NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    -- 'open', 'resolve', 'repeat:N' or 'test'.
    transition      text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- One object per attempt: {"at", "ok", "error"}.
    attempt_log     jsonb NOT NULL DEFAULT '[]'::jsonb,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, channel_id, transition)
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE alert_silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL matches every rule / every VPS.
    rule_id    bigint REFERENCES alert_rules (id) ON DELETE CASCADE,
    vps_id     bigint REFERENCES vps (id) ON DELETE CASCADE,
    -- One-off: [starts_at, ends_at). Recurring: each cron start (in timezone) for duration_s.
    starts_at  timestamptz,
    ends_at    timestamptz,
    cron       text,
    duration_s double precision CHECK (duration_s IS NULL OR duration_s > 0),
    timezone   text NOT NULL DEFAULT 'UTC',
    comment    text NOT NULL DEFAULT '' CHECK (length(comment) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by bigint REFERENCES users (id) ON DELETE SET NULL,
    CHECK ((cron IS NULL AND starts_at IS NOT NULL AND ends_at > starts_at)
        OR (cron IS NOT NULL AND duration_s IS NOT NULL))
);

-- Analysts see rules, events and delivery outcomes; never channel secrets.
CREATE VIEW alert_channels_public AS
SELECT id, name, kind, enabled, created_at FROM alert_channels;

GRANT SELECT ON alert_rules, alert_rule_channels, alert_events, alert_silences, vps_billing,
    collector_instances, alert_channels_public TO tidewatch_reader;
GRANT SELECT (id, event_id, channel_id, transition, status, attempts, sent_at, created_at)
    ON alert_deliveries TO tidewatch_reader;

-- Daily traffic per VPS in its own timezone, from the reset-aware byte deltas:
-- raw rows where they are kept, the 1-hour rollup for hours older than the
-- oldest raw row (raw retention dropped them). The API and the evaluator both
-- read traffic through this.
CREATE FUNCTION tw_traffic_daily(vps_ids bigint[], from_time timestamptz)
RETURNS TABLE (vps_id bigint, day date, rx_bytes bigint, tx_bytes bigint)
LANGUAGE sql STABLE AS $$
    WITH floors AS (
        SELECT v.id, v.traffic_timezone AS tz,
               coalesce((SELECT min(n.time) FROM network_metrics n WHERE n.vps_id = v.id), 'infinity') AS raw_from
        FROM vps v WHERE v.id = ANY(vps_ids)
    ), parts AS (
        SELECT f.id, (n.time AT TIME ZONE f.tz)::date AS day, n.rx_bytes_delta AS rx, n.tx_bytes_delta AS tx
        FROM floors f JOIN network_metrics n ON n.vps_id = f.id AND n.time >= from_time
        UNION ALL
        SELECT f.id, (r.bucket AT TIME ZONE f.tz)::date, r.rx_bytes_sum, r.tx_bytes_sum
        FROM floors f JOIN network_metrics_1h r ON r.vps_id = f.id AND r.bucket >= from_time
             AND r.bucket < date_trunc('hour', f.raw_from)
    )
    SELECT id, day, sum(rx)::bigint, sum(tx)::bigint FROM parts GROUP BY id, day ORDER BY id, day
$$;
GRANT EXECUTE ON FUNCTION tw_traffic_daily(bigint[], timestamptz) TO tidewatch_reader;
