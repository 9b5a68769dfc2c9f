-- Operations: the audit trail, API tokens, and what an operator needs of a worker row.

-- Every mutation through any front end, one row each. Append-only: only the purge path,
-- which sets harvest.purging for its own transaction, may delete (old rows, by age).
CREATE TABLE harvest.audit_log (
    seq          bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    namespace    text NOT NULL,
    actor        text NOT NULL,
    front_end    text NOT NULL,
    action       text NOT NULL,
    target_type  text,
    target       text,
    args_digest  text NOT NULL,
    outcome      text NOT NULL,
    detail       text,
    touched      jsonb,
    request_id   text
);
CREATE INDEX audit_log_by_target ON harvest.audit_log (target, seq);
CREATE INDEX audit_log_by_actor ON harvest.audit_log (actor, seq);
CREATE INDEX audit_log_by_time ON harvest.audit_log (at);

CREATE FUNCTION harvest.reject_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('harvest.purging', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'harvest.audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON harvest.audit_log
    FOR EACH ROW EXECUTE FUNCTION harvest.reject_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON harvest.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION harvest.reject_audit_change();

-- Bearer tokens of the HTTP API and dashboard. Only a SHA-256 of the secret is kept.
CREATE TABLE harvest.api_tokens (
    token_id      text PRIMARY KEY,
    name          text NOT NULL,
    scope         text NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
    namespace     text,
    secret_sha256 bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by    text NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name ON harvest.api_tokens (name) WHERE revoked_at IS NULL;

-- A worker's code version, slot count, and an operator's request that it drain.
ALTER TABLE harvest.workers ADD COLUMN version text;
ALTER TABLE harvest.workers ADD COLUMN slots integer;
ALTER TABLE harvest.workers ADD COLUMN drain_requested_at timestamptz;
