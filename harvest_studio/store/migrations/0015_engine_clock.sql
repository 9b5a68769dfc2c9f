-- One clock for the engine: harvest.now() is the transaction's now() plus a skew that only
-- the test kit's time skipping sets (the session setting harvest.clock_skew, unset in
-- production: then it is now() exactly). Inlined by the planner: it costs nothing.
CREATE FUNCTION harvest.now() RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.now() + COALESCE(NULLIF(current_setting('harvest.clock_skew', true), '')::interval,
                            interval '0')
$$;

ALTER TABLE harvest.runs ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.inbox ALTER COLUMN at SET DEFAULT harvest.now();
ALTER TABLE harvest.tasks ALTER COLUMN visible_at SET DEFAULT harvest.now();
ALTER TABLE harvest.tasks ALTER COLUMN scheduled_at SET DEFAULT harvest.now();
ALTER TABLE harvest.workers ALTER COLUMN started_at SET DEFAULT harvest.now();
ALTER TABLE harvest.workers ALTER COLUMN heartbeat_at SET DEFAULT harvest.now();
ALTER TABLE harvest.registry ALTER COLUMN first_seen SET DEFAULT harvest.now();
ALTER TABLE harvest.registry ALTER COLUMN last_seen SET DEFAULT harvest.now();
ALTER TABLE harvest.dead_letters ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.signal_keys ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.queries ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.namespaces ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.updates ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.updates ALTER COLUMN updated_at SET DEFAULT harvest.now();
ALTER TABLE harvest.flow_limits ALTER COLUMN refilled_at SET DEFAULT harvest.now();
ALTER TABLE harvest.flow_limits ALTER COLUMN updated_at SET DEFAULT harvest.now();
ALTER TABLE harvest.schedules ALTER COLUMN created_at SET DEFAULT harvest.now();
ALTER TABLE harvest.schedules ALTER COLUMN updated_at SET DEFAULT harvest.now();
ALTER TABLE harvest.schedule_log ALTER COLUMN at SET DEFAULT harvest.now();
ALTER TABLE harvest.attempt_logs ALTER COLUMN at SET DEFAULT harvest.now();
