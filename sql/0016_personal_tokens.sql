-- Personal API tokens live beside login sessions in api_tokens, so they
-- authenticate through the same lookup; kind tells the two apart. A personal
-- token's description is its name, chosen by its owner.
ALTER TABLE api_tokens
    ADD COLUMN kind text NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'personal'));
ALTER TABLE api_tokens
    ADD CONSTRAINT api_tokens_personal_named_and_expiring
    CHECK (kind <> 'personal' OR (length(description) BETWEEN 1 AND 64 AND expires_at IS NOT NULL));
CREATE INDEX api_tokens_user_kind ON api_tokens (user_id, kind);

-- The audit log is read newest first, filtered by actor, target (a VPS) or action.
CREATE INDEX audit_log_user_id ON audit_log (user_id, id DESC);
CREATE INDEX audit_log_target_id ON audit_log (target, id DESC);
CREATE INDEX audit_log_action_id ON audit_log (action, id DESC);
