-- Dead letters an operator can act on: what was done with a quarantined task (replayed as a
-- fresh task, or discarded with a note), and the triage of runs that failed on an activity
-- whose retries ran out (retried as a new run, or discarded).
ALTER TABLE harvest.dead_letters ADD COLUMN resolved_at timestamptz;
ALTER TABLE harvest.dead_letters ADD COLUMN resolution text
    CHECK (resolution IN ('replayed', 'discarded'));
ALTER TABLE harvest.dead_letters ADD COLUMN resolved_by text;
ALTER TABLE harvest.dead_letters ADD COLUMN resolution_note text;
ALTER TABLE harvest.dead_letters ADD COLUMN replayed_task_id bigint;
CREATE INDEX dead_letters_open ON harvest.dead_letters (namespace, id) WHERE resolved_at IS NULL;

CREATE TABLE harvest.failed_run_triage (
    run_id      uuid PRIMARY KEY,
    namespace   text NOT NULL,
    resolution  text NOT NULL CHECK (resolution IN ('replayed', 'discarded')),
    note        text,
    actor       text NOT NULL,
    new_run_id  uuid,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Failed runs are found by the failure that ended them.
CREATE INDEX runs_failed_on_activity ON harvest.runs (namespace, closed_at DESC)
    WHERE status = 'FAILED' AND error->>'type' = 'ActivityError';
-- A failed run that was reset or retried into a new run has been dealt with.
CREATE INDEX runs_reset_from ON harvest.runs (reset_from) WHERE reset_from IS NOT NULL;
