-- Runs found running past the SLA a worker was given for their workflow type: one row per
-- run, so the worker's on_sla_missed hooks hear of each miss once, whichever worker saw it.
CREATE TABLE harvest.sla_misses (
    run_id         uuid PRIMARY KEY,
    namespace      text NOT NULL,
    workflow_type  text NOT NULL,
    sla_seconds    double precision NOT NULL,
    noticed_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
