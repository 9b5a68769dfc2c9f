-- Fewer index entries per task write (each claim and hand-back writes a new row version,
-- and every index whose predicate it meets gets an entry: WAL per activity). Running tasks
-- are few, so the sweeper's attempt and heartbeat deadlines are found by reading the
-- running tasks through tasks_lease; the schedule-to-start and schedule-to-close deadlines,
-- usually unset, index only the tasks that have one.
DROP INDEX harvest.tasks_attempt_deadline;
DROP INDEX harvest.tasks_heartbeat_deadline;
DROP INDEX harvest.tasks_start_deadline;
CREATE INDEX tasks_start_deadline ON harvest.tasks (start_deadline)
    WHERE state = 'PENDING' AND start_deadline IS NOT NULL;
DROP INDEX harvest.tasks_close_deadline;
CREATE INDEX tasks_close_deadline ON harvest.tasks (close_deadline)
    WHERE close_deadline IS NOT NULL;

-- Room on each page of runs for the new version of a row: a decision that does not close
-- its run changes no indexed column, and with free space on the page the update is HOT
-- (no entry in any of the table's indexes).
ALTER TABLE harvest.runs SET (fillfactor = 70);
