-- Harvest Studio core schema: runs, append-only history, inbox, one task table, timers.

CREATE TABLE harvest.runs (
    run_id            uuid PRIMARY KEY,
    namespace         text NOT NULL DEFAULT 'default',
    workflow_id       text NOT NULL,
    workflow_type     text NOT NULL,
    queue             text NOT NULL,
    status            text NOT NULL,
    input             jsonb NOT NULL,
    result            jsonb,
    error             jsonb,
    last_seq          integer NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    deadline          timestamptz,
    idempotency_key   text,
    fingerprint       text,
    blocked           jsonb,
    blocked_count     integer NOT NULL DEFAULT 0,
    CONSTRAINT runs_status_known CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'TIMED_OUT'))
);
-- One open run per workflow id; closed runs may share it (id reuse policy decides).
CREATE UNIQUE INDEX runs_open_workflow_id ON harvest.runs (namespace, workflow_id)
    WHERE status = 'RUNNING';
CREATE INDEX runs_by_workflow_id ON harvest.runs (namespace, workflow_id, created_at DESC);
CREATE UNIQUE INDEX runs_idempotency_key ON harvest.runs (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX runs_recent ON harvest.runs (namespace, created_at DESC, run_id);
CREATE INDEX runs_by_status ON harvest.runs (namespace, status, created_at DESC);
CREATE INDEX runs_deadline ON harvest.runs (deadline)
    WHERE status = 'RUNNING' AND deadline IS NOT NULL;
CREATE INDEX runs_blocked ON harvest.runs (namespace) WHERE blocked IS NOT NULL;

CREATE TABLE harvest.history (
    run_id      uuid NOT NULL,
    seq         integer NOT NULL,
    event_type  text NOT NULL,
    at          timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE FUNCTION harvest.reject_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'harvest.history is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON harvest.history
    FOR EACH ROW EXECUTE FUNCTION harvest.reject_history_change();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON harvest.history
    FOR EACH STATEMENT EXECUTE FUNCTION harvest.reject_history_change();

-- Events waiting to enter a run's history: they get there only through a workflow task,
-- together with the decisions they cause.
CREATE TABLE harvest.inbox (
    id          bigserial PRIMARY KEY,
    run_id      uuid NOT NULL,
    event_type  text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    dedupe_key  text
);
CREATE INDEX inbox_by_run ON harvest.inbox (run_id, id);
CREATE UNIQUE INDEX inbox_dedupe ON harvest.inbox (run_id, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE harvest.tasks (
    task_id             bigserial PRIMARY KEY,
    namespace           text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('workflow', 'activity')),
    run_id              uuid NOT NULL,
    type_name           text NOT NULL,
    queue               text NOT NULL,
    state               text NOT NULL CHECK (state IN ('PENDING', 'RUNNING')),
    priority            integer NOT NULL DEFAULT 0,
    visible_at          timestamptz NOT NULL DEFAULT now(),
    -- fencing token: every owner write checks (worker_id, attempt)
    worker_id           text,
    attempt             integer NOT NULL DEFAULT 0,
    lease_expires_at    timestamptz,
    crash_strikes       integer NOT NULL DEFAULT 0,
    -- workflow tasks: new inbox events arrived while the task was running
    dirty               boolean NOT NULL DEFAULT false,
    -- activity tasks
    activity_seq        integer,
    retry_attempt       integer NOT NULL DEFAULT 1,
    input               jsonb,
    retry_policy        jsonb,
    start_to_close      double precision,
    schedule_to_start   double precision,
    heartbeat_timeout   double precision,
    max_concurrent      integer,
    scheduled_at        timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    attempt_deadline    timestamptz,
    heartbeat_deadline  timestamptz,
    start_deadline      timestamptz,
    close_deadline      timestamptz,
    heartbeat_details   jsonb,
    last_error          jsonb
);
CREATE UNIQUE INDEX tasks_one_workflow_task ON harvest.tasks (run_id) WHERE kind = 'workflow';
CREATE INDEX tasks_claimable ON harvest.tasks (namespace, queue, priority DESC, visible_at)
    WHERE state = 'PENDING';
CREATE INDEX tasks_lease ON harvest.tasks (lease_expires_at) WHERE state = 'RUNNING';
CREATE INDEX tasks_by_worker ON harvest.tasks (worker_id) WHERE state = 'RUNNING';
CREATE INDEX tasks_by_run ON harvest.tasks (run_id);
CREATE INDEX tasks_capped_running ON harvest.tasks (namespace, type_name)
    WHERE state = 'RUNNING' AND max_concurrent IS NOT NULL;
CREATE INDEX tasks_attempt_deadline ON harvest.tasks (attempt_deadline) WHERE state = 'RUNNING';
CREATE INDEX tasks_heartbeat_deadline ON harvest.tasks (heartbeat_deadline) WHERE state = 'RUNNING';
CREATE INDEX tasks_start_deadline ON harvest.tasks (start_deadline) WHERE state = 'PENDING';
CREATE INDEX tasks_close_deadline ON harvest.tasks (close_deadline);

CREATE TABLE harvest.timers (
    run_id      uuid NOT NULL,
    seq         integer NOT NULL,
    namespace   text NOT NULL,
    fires_at    timestamptz NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX timers_due ON harvest.timers (fires_at);

CREATE TABLE harvest.workers (
    worker_id     text PRIMARY KEY,
    namespace     text NOT NULL,
    hostname      text NOT NULL,
    pid           integer NOT NULL,
    queues        text[] NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'ACTIVE'
);

-- Which workflow and activity types some worker has served, with which code.
CREATE TABLE harvest.registry (
    namespace    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('workflow', 'activity')),
    name         text NOT NULL,
    fingerprint  text NOT NULL,
    queue        text NOT NULL DEFAULT 'default',
    execution_timeout double precision,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, kind, name, fingerprint)
);

CREATE TABLE harvest.dead_letters (
    id          bigserial PRIMARY KEY,
    namespace   text NOT NULL,
    task_id     bigint NOT NULL,
    kind        text NOT NULL,
    run_id      uuid NOT NULL,
    type_name   text NOT NULL,
    reason      text NOT NULL,
    task        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_by_run ON harvest.dead_letters (run_id);
