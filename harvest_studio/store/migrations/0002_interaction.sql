-- Talking to running workflows: signals, queries, cancellation, termination, pause.

ALTER TABLE harvest.runs DROP CONSTRAINT runs_status_known;
ALTER TABLE harvest.runs ADD CONSTRAINT runs_status_known CHECK (status IN (
    'RUNNING', 'COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'TERMINATED',
    'CONTINUED_AS_NEW'));
ALTER TABLE harvest.runs ADD COLUMN paused boolean NOT NULL DEFAULT false;
ALTER TABLE harvest.runs ADD COLUMN cancel_requested_at timestamptz;

-- A signal idempotency key is remembered for the life of the run, not just while the
-- signal waits in the inbox.
CREATE TABLE harvest.signal_keys (
    run_id      uuid NOT NULL,
    key         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, key)
);

-- Queries are answered by a worker (it has the code); nothing is written to history.
ALTER TABLE harvest.tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE harvest.tasks ADD CONSTRAINT tasks_kind_check
    CHECK (kind IN ('workflow', 'activity', 'query'));

CREATE TABLE harvest.queries (
    query_id    bigserial PRIMARY KEY,
    run_id      uuid NOT NULL,
    name        text NOT NULL,
    args        jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'ANSWERED', 'FAILED')),
    result      jsonb,
    error       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz
);
CREATE INDEX queries_created ON harvest.queries (created_at);
