-- Retention: a namespace may keep ended runs for a while and no longer, and `harvest purge`
-- removes them (archived first when asked). History stays append-only for every other
-- path: only a transaction that set harvest.purging (the purge path) may delete from it.
ALTER TABLE harvest.namespaces ADD COLUMN retention_seconds double precision
    CHECK (retention_seconds IS NULL OR retention_seconds > 0);

CREATE OR REPLACE FUNCTION harvest.reject_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('harvest.purging', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'harvest.history is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE INDEX runs_ended ON harvest.runs (closed_at) WHERE closed_at IS NOT NULL;
