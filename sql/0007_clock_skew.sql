-- Each agent's clock, as the collector last heard it, and the batches the
-- collector refused for good.
--   clock_offset_ms: collector time minus agent time (negative: the agent is
--     ahead). Samples are stored corrected by it; beyond ±5 minutes the VPS
--     shows "clock skewed by X".
--   clock_rtt_ms: the round trip of the exchange the estimate came from; NULL
--     for a one-way estimate (an agent that does not measure its clock).
--   rejected_batches_total: batches acknowledged OUTCOME_REJECTED (the agent
--     dropped them); last_rejected_at/last_rejection say when and why.
ALTER TABLE vps
    ADD COLUMN clock_offset_ms bigint,
    ADD COLUMN clock_rtt_ms integer,
    ADD COLUMN clock_checked_at timestamptz,
    ADD COLUMN rejected_batches_total bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_rejected_at timestamptz,
    ADD COLUMN last_rejection text;

-- For analysts (tidewatch_reader), beside vps_inventory.
CREATE VIEW vps_agent_health AS
SELECT id AS vps_id, clock_offset_ms, clock_rtt_ms, clock_checked_at,
       rejected_batches_total, last_rejected_at, last_rejection
FROM vps;

GRANT SELECT ON vps_agent_health TO tidewatch_reader;
