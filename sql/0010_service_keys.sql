-- Keys only the services' own role can read. Any role may NOTIFY, so the
-- collector signs each tidewatch_live payload with live_notify_hmac and the API
-- drops what does not verify. A schema of its own, closed to PUBLIC, so that a
-- later "GRANT SELECT ON ALL TABLES IN SCHEMA public" cannot hand the key out.
CREATE SCHEMA tidewatch_private;
REVOKE ALL ON SCHEMA tidewatch_private FROM PUBLIC;

CREATE TABLE tidewatch_private.service_keys (
    name       text PRIMARY KEY,
    key        bytea NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON tidewatch_private.service_keys FROM PUBLIC;

-- 48 bytes from three gen_random_uuid() (pg_strong_random: 366 random bits).
INSERT INTO tidewatch_private.service_keys (name, key)
VALUES ('live_notify_hmac', decode(replace(
    gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
