-- What a running run's code waits on after its last decision, in words the tools can show
-- ("signal approve", with the timer that ends the wait): every decision rewrites it, a
-- closed run has none. Tasks and timers show the rest of a run's pending work.
ALTER TABLE harvest.runs ADD COLUMN waiting jsonb;
