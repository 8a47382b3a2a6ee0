-- Raw metric hypertables, one row per sample (per disk, interface, container).
-- Every table keys on (vps_id, time); chunks are one day wide.

CREATE TABLE host_metrics (
    time                   timestamptz NOT NULL,
    vps_id                 bigint NOT NULL,
    cpu_percent            double precision NOT NULL,
    cpu_per_core_percent   double precision[] NOT NULL,
    cpu_user_percent       double precision NOT NULL,
    cpu_system_percent     double precision NOT NULL,
    cpu_iowait_percent     double precision NOT NULL,
    cpu_steal_percent      double precision NOT NULL,
    load_1                 double precision NOT NULL,
    load_5                 double precision NOT NULL,
    load_15                double precision NOT NULL,
    memory_total_bytes     bigint NOT NULL,
    memory_used_bytes      bigint NOT NULL,
    memory_available_bytes bigint NOT NULL,
    memory_cached_bytes    bigint NOT NULL,
    memory_buffers_bytes   bigint NOT NULL,
    swap_total_bytes       bigint NOT NULL,
    swap_used_bytes        bigint NOT NULL,
    tcp_connections        integer NOT NULL,
    udp_connections        integer NOT NULL,
    process_count          integer NOT NULL,
    uptime_seconds         bigint NOT NULL
);
SELECT create_hypertable('host_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX host_metrics_vps_time ON host_metrics (vps_id, time DESC);

CREATE TABLE disk_metrics (
    time         timestamptz NOT NULL,
    vps_id       bigint NOT NULL,
    mountpoint   text NOT NULL,
    device       text NOT NULL,
    fstype       text NOT NULL,
    total_bytes  bigint NOT NULL,
    used_bytes   bigint NOT NULL,
    free_bytes   bigint NOT NULL,
    inodes_total bigint NOT NULL,
    inodes_used  bigint NOT NULL
);
SELECT create_hypertable('disk_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX disk_metrics_vps_time ON disk_metrics (vps_id, time DESC);

CREATE TABLE disk_io_metrics (
    time                   timestamptz NOT NULL,
    vps_id                 bigint NOT NULL,
    device                 text NOT NULL,
    read_bytes_per_second  double precision NOT NULL,
    write_bytes_per_second double precision NOT NULL,
    read_ops_per_second    double precision NOT NULL,
    write_ops_per_second   double precision NOT NULL
);
SELECT create_hypertable('disk_io_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX disk_io_metrics_vps_time ON disk_io_metrics (vps_id, time DESC);

CREATE TABLE network_metrics (
    time                  timestamptz NOT NULL,
    vps_id                bigint NOT NULL,
    interface             text NOT NULL,
    rx_bytes_per_second   double precision NOT NULL,
    tx_bytes_per_second   double precision NOT NULL,
    rx_packets_per_second double precision NOT NULL,
    tx_packets_per_second double precision NOT NULL,
    rx_errors             bigint NOT NULL,
    tx_errors             bigint NOT NULL,
    rx_drops              bigint NOT NULL,
    tx_drops              bigint NOT NULL,
    -- Reset-aware bytes since the previous sample: sum them for traffic totals.
    rx_bytes_delta        bigint NOT NULL,
    tx_bytes_delta        bigint NOT NULL
);
SELECT create_hypertable('network_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX network_metrics_vps_time ON network_metrics (vps_id, time DESC);

CREATE TABLE temperature_metrics (
    time    timestamptz NOT NULL,
    vps_id  bigint NOT NULL,
    sensor  text NOT NULL,
    celsius double precision NOT NULL
);
SELECT create_hypertable('temperature_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX temperature_metrics_vps_time ON temperature_metrics (vps_id, time DESC);

CREATE TABLE container_metrics (
    time               timestamptz NOT NULL,
    vps_id             bigint NOT NULL,
    container_id       text NOT NULL,
    cpu_percent        double precision NOT NULL,
    memory_usage_bytes bigint NOT NULL,
    memory_limit_bytes bigint NOT NULL,
    network_rx_bytes   bigint NOT NULL,
    network_tx_bytes   bigint NOT NULL,
    block_read_bytes   bigint NOT NULL,
    block_write_bytes  bigint NOT NULL,
    pids               integer NOT NULL
);
SELECT create_hypertable('container_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX container_metrics_vps_time ON container_metrics (vps_id, container_id, time DESC);

CREATE TABLE generic_metrics (
    time   timestamptz NOT NULL,
    vps_id bigint NOT NULL,
    name   text NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    value  double precision NOT NULL
);
SELECT create_hypertable('generic_metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX generic_metrics_vps_name_time ON generic_metrics (vps_id, name, time DESC);

-- Container metadata (upserted) and state changes (appended).
CREATE TABLE containers (
    vps_id        bigint NOT NULL REFERENCES vps (id) ON DELETE CASCADE,
    container_id  text NOT NULL,
    name          text NOT NULL,
    image         text NOT NULL,
    state         text NOT NULL,
    status        text NOT NULL,
    created_at    timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    restart_count integer NOT NULL DEFAULT 0,
    exit_code     integer,
    oom_killed    boolean NOT NULL DEFAULT false,
    labels        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ports         text[] NOT NULL DEFAULT '{}',
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz,
    PRIMARY KEY (vps_id, container_id)
);

CREATE TABLE container_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time         timestamptz NOT NULL,
    vps_id       bigint NOT NULL REFERENCES vps (id) ON DELETE CASCADE,
    container_id text NOT NULL,
    event        text NOT NULL CHECK (event IN ('appeared', 'started', 'stopped', 'died', 'oom', 'restarted', 'removed')),
    exit_code    integer,
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX container_events_vps_time ON container_events (vps_id, time DESC);

-- Exactly-once in effect: a batch id is recorded in the same transaction as its
-- rows. batch_time (the batch's earliest sample) is part of the content, so a
-- replay carries the same value and conflicts; it also lets retention drop it.
CREATE TABLE ingested_batches (
    vps_id      bigint NOT NULL,
    epoch       bigint NOT NULL,
    sequence    bigint NOT NULL,
    batch_time  timestamptz NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    row_count   integer NOT NULL,
    UNIQUE (vps_id, epoch, sequence, batch_time)
);
SELECT create_hypertable('ingested_batches', by_range('batch_time', INTERVAL '1 day'));
