-- Child workflows: a run remembers its parent, the parent's event that started it, and
-- what happens to it when the parent closes.

ALTER TABLE harvest.runs ADD COLUMN parent_run_id uuid;
ALTER TABLE harvest.runs ADD COLUMN parent_seq integer;
ALTER TABLE harvest.runs ADD COLUMN parent_close_policy text
    CHECK (parent_close_policy IN ('terminate', 'request_cancel', 'abandon'));
ALTER TABLE harvest.runs ADD COLUMN parent_policy_applied boolean NOT NULL DEFAULT false;
CREATE INDEX runs_by_parent ON harvest.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
