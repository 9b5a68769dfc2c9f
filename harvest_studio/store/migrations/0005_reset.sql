-- Reset and rerun: a run made from another one remembers where it came from.
ALTER TABLE harvest.runs ADD COLUMN reset_from uuid;
