-- The optional public status page: off by default. An admin picks the servers it shows,
-- in titled groups, each under a public display name (or "Server N"); nothing else of a
-- server (name, address, hostname, labels, id) is ever shown on it.

CREATE TABLE status_page (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled    boolean NOT NULL DEFAULT false,
    title      text NOT NULL DEFAULT 'Service status' CHECK (length(title) BETWEEN 1 AND 128),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO status_page DEFAULT VALUES;

CREATE TABLE status_page_groups (
    position integer PRIMARY KEY CHECK (position >= 0),
    title    text NOT NULL CHECK (length(title) BETWEEN 1 AND 128)
);

CREATE TABLE status_page_servers (
    vps_id         bigint PRIMARY KEY REFERENCES vps (id) ON DELETE CASCADE,
    group_position integer NOT NULL REFERENCES status_page_groups (position) ON DELETE CASCADE,
    position       integer NOT NULL CHECK (position >= 0),
    -- NULL: shown as "Server N".
    display_name   text CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 128),
    UNIQUE (group_position, position)
);
