-- What each activity attempt printed or logged (its last 64 KiB; `dropped` characters
-- were cut from the front), written in the same statement as the attempt's outcome.
CREATE TABLE harvest.attempt_logs (
    run_id       uuid NOT NULL REFERENCES harvest.runs (run_id) ON DELETE CASCADE,
    activity_seq int NOT NULL,
    attempt      int NOT NULL,
    output       text NOT NULL,
    dropped      int NOT NULL DEFAULT 0,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, activity_seq, attempt)
);
