-- Flow control on the claim path: priorities and fairness keys carried by runs onto their
-- tasks, and limits (pause, tokens per second, concurrency caps) per queue and per activity
-- type that every claim reads under a row lock.

ALTER TABLE harvest.runs
    ADD COLUMN priority integer NOT NULL DEFAULT 0,
    ADD COLUMN fairness_key text,
    -- the run's place among the runs of other fairness keys (0: the run has no key)
    ADD COLUMN fair_round bigint NOT NULL DEFAULT 0;

ALTER TABLE harvest.tasks ADD COLUMN fair_round bigint NOT NULL DEFAULT 0;

-- Claims read tasks in (priority, round, visibility) order; with no fairness keys in use
-- every round is 0 and the order is the one this index replaces.
DROP INDEX harvest.tasks_claimable;
CREATE INDEX tasks_claimable ON harvest.tasks (namespace, queue, priority DESC, fair_round,
    visible_at) WHERE state = 'PENDING';

-- The last round each fairness key was given in a queue (start-time fair queuing: a key's
-- next run goes one round after its previous one, or at the head of the queue if later).
CREATE TABLE harvest.fair_keys (
    namespace     text NOT NULL,
    queue         text NOT NULL,
    fairness_key  text NOT NULL,
    last_round    bigint NOT NULL,
    PRIMARY KEY (namespace, queue, fairness_key)
);

CREATE TABLE harvest.flow_limits (
    namespace       text NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('queue', 'activity')),
    name            text NOT NULL,
    paused          boolean NOT NULL DEFAULT false,
    rate            double precision CHECK (rate > 0),
    burst           double precision CHECK (burst >= 1),
    tokens          double precision NOT NULL DEFAULT 0,
    refilled_at     timestamptz NOT NULL DEFAULT now(),
    max_concurrent  integer CHECK (max_concurrent >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, scope, name)
);
