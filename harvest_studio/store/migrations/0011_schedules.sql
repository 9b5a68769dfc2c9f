-- Schedules: when to start runs of a workflow or DAG, the slot keys that make a slot start
-- at most one run, and the decision log.
CREATE TABLE harvest.schedules (
    namespace             text NOT NULL,
    name                  text NOT NULL,
    workflow_type         text NOT NULL,
    args                  jsonb NOT NULL DEFAULT '[]',
    spec                  jsonb NOT NULL,
    overlap               text NOT NULL DEFAULT 'skip',
    catchup               text NOT NULL DEFAULT 'most_recent',
    max_runs              integer,
    failure_limit         integer,
    paused                boolean NOT NULL DEFAULT false,
    note                  text,
    source                text NOT NULL DEFAULT 'api',
    next_slot             timestamptz,   -- the first slot not yet handled (NULL: none left)
    fire_at               timestamptz,   -- next_slot plus its jitter: when to look again
    last_slot             timestamptz,
    last_run_id           uuid,
    counted_run_id        uuid,          -- the last run whose outcome was counted
    runs_started          integer NOT NULL DEFAULT 0,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    buffered              integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);
CREATE INDEX schedules_due ON harvest.schedules (namespace, fire_at) WHERE NOT paused;

-- One row per slot that was decided: at most one run per slot, whoever decides it.
CREATE TABLE harvest.schedule_slots (
    namespace   text NOT NULL,
    schedule    text NOT NULL,
    slot        timestamptz NOT NULL,
    state       text NOT NULL CHECK (state IN ('started', 'skipped', 'buffered')),
    run_id      uuid,
    PRIMARY KEY (namespace, schedule, slot)
);
CREATE INDEX schedule_slots_buffered ON harvest.schedule_slots (namespace, schedule, slot)
    WHERE state = 'buffered';

CREATE TABLE harvest.schedule_log (
    id          bigserial PRIMARY KEY,
    namespace   text NOT NULL,
    schedule    text NOT NULL,
    slot        timestamptz,
    action      text NOT NULL,
    run_id      uuid,
    detail      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedule_log_by_schedule ON harvest.schedule_log (namespace, schedule, id DESC);
