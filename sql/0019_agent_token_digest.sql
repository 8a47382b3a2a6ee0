-- A fast check for agent tokens (issue 12, reconnect storms).
--
-- Agent tokens carry 256 random bits, so a SHA-256 digest of the token is as
-- safe to store as its argon2 hash: nothing can be guessed either way, and the
-- digest verifies in microseconds instead of ~4 ms of argon2 per handshake.
-- The collector fills it in after the first successful argon2 check of a token
-- (existing rows migrate lazily); until then argon2 decides.
ALTER TABLE vps ADD COLUMN agent_token_digest bytea
    CHECK (agent_token_digest IS NULL OR octet_length(agent_token_digest) = 32);

-- A digest belongs to the hash it was checked against: whatever changes the
-- token hash (rotation, reissue) drops the digest in the same statement, so an
-- old token can never pass the fast check.
CREATE FUNCTION tw_vps_token_digest_follows_hash() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.agent_token_hash IS DISTINCT FROM OLD.agent_token_hash THEN
        NEW.agent_token_digest := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER vps_token_digest_follows_hash
    BEFORE UPDATE OF agent_token_hash ON vps
    FOR EACH ROW EXECUTE FUNCTION tw_vps_token_digest_follows_hash();
