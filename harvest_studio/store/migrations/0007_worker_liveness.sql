-- How long a worker may go without a heartbeat before it counts as gone: its lease. Used to
-- tell a user that a run waits because no live worker serves its queue.
ALTER TABLE harvest.workers ADD COLUMN lease_seconds double precision NOT NULL DEFAULT 30;
CREATE INDEX workers_live ON harvest.workers (namespace) WHERE status = 'ACTIVE';
