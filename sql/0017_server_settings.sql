-- Settings an admin changes at run time through GET/PATCH /api/settings: one row.
-- A NULL column is "not set here": the service's environment default applies
-- (TIDEWATCH_API_ALLOW_REGISTRATION, TIDEWATCH_INSTALL_*), so the environment
-- seeds each value until an admin sets it.
CREATE TABLE server_settings (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    allow_registration boolean,
    -- The API's URL as VPSes reach it: the one-line install command fetches from it.
    public_api_url     text CHECK (length(public_api_url) BETWEEN 1 AND 2048),
    -- Where new agents connect: the collector's public name and port, not the API's.
    collector_host     text CHECK (length(collector_host) BETWEEN 1 AND 253),
    collector_port     integer CHECK (collector_port BETWEEN 1 AND 65535),
    collector_tls      boolean,
    -- PEM of the CA that signed the collector's certificate; '' = the system's CAs.
    collector_ca_pem   text CHECK (length(collector_ca_pem) <= 65536),
    updated_at         timestamptz,
    updated_by         bigint REFERENCES users (id) ON DELETE SET NULL
);
INSERT INTO server_settings DEFAULT VALUES;
