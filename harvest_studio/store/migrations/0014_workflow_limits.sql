-- Workflow-level concurrency (DBOS's queue concurrency): a run started while its workflow
-- type or its queue has a max_workflows limit is held at its start until a slot frees;
-- admitted_at marks the runs admitted under such a limit, which are what the limit counts.

ALTER TABLE harvest.runs
    ADD COLUMN held boolean NOT NULL DEFAULT false,
    ADD COLUMN admitted_at timestamptz;

-- only runs under a workflow limit ever enter these indexes: they stay as small as the limits
CREATE INDEX runs_held ON harvest.runs (namespace, queue, workflow_type) WHERE held;
CREATE INDEX runs_admitted_by_type ON harvest.runs (namespace, workflow_type)
    WHERE admitted_at IS NOT NULL AND status = 'RUNNING';
CREATE INDEX runs_admitted_in_queue ON harvest.runs (namespace, queue)
    WHERE admitted_at IS NOT NULL AND status = 'RUNNING';

ALTER TABLE harvest.flow_limits DROP CONSTRAINT flow_limits_scope_check;
ALTER TABLE harvest.flow_limits ADD CONSTRAINT flow_limits_scope_check
    CHECK (scope IN ('queue', 'activity', 'workflow'));
ALTER TABLE harvest.flow_limits ADD COLUMN max_workflows integer CHECK (max_workflows >= 0);
