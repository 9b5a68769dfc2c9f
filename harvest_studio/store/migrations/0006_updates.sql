-- Updates: a request/response conversation with a running workflow.
CREATE TABLE harvest.updates (
    run_id       uuid NOT NULL,
    update_id    text NOT NULL,
    name         text NOT NULL,
    args         jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'REQUESTED'
                 CHECK (status IN ('REQUESTED', 'REJECTED', 'ADMITTED', 'COMPLETED', 'FAILED')),
    result       jsonb,
    error        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, update_id)
);
