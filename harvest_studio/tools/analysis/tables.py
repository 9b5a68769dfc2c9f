"""The analysis database's tables (DuckDB SQL): ``runs`` and ``events`` as copied, and the
tables derived from ``events`` after each load — ``attempts``, ``timers``, ``signals``,
``dag_nodes``. Derived tables are rebuilt from ``events`` as a whole, so an incremental
load cannot leave them half updated."""

from __future__ import annotations

RUNS_TYPES = {
    "run_id": "VARCHAR",
    "namespace": "VARCHAR",
    "workflow_id": "VARCHAR",
    "workflow_type": "VARCHAR",
    "queue": "VARCHAR",
    "status": "VARCHAR",
    "created_at": "TIMESTAMPTZ",
    "closed_at": "TIMESTAMPTZ",
    "last_seq": "INTEGER",
    "code_version": "VARCHAR",
    "parent_run_id": "VARCHAR",
    "continued_from": "VARCHAR",
    "priority": "INTEGER",
    "search_attributes": "JSON",
    "error_type": "VARCHAR",
}
EVENTS_TYPES = {
    "run_id": "VARCHAR",
    "seq": "INTEGER",
    "type": "VARCHAR",
    '"at"': "TIMESTAMPTZ",
    "payload": "JSON",
}


def create_table(name: str, types: dict[str, str], extra: str = "") -> str:
    columns = ", ".join(f"{c} {t}" for c, t in types.items())
    return f"CREATE TABLE IF NOT EXISTS {name} ({columns}{extra})"


SLOTS_TYPES = {
    "namespace": "VARCHAR",
    "schedule": "VARCHAR",
    "slot": "TIMESTAMPTZ",
    "state": "VARCHAR",
    "run_id": "VARCHAR",
}

BASE_TABLES = [
    create_table("runs", RUNS_TYPES, ", PRIMARY KEY (run_id)"),
    create_table("events", EVENTS_TYPES),
    create_table("schedule_slots", SLOTS_TYPES, ", PRIMARY KEY (namespace, schedule, slot)"),
    "CREATE TABLE IF NOT EXISTS harvest_loads (loaded_at TIMESTAMPTZ, namespace VARCHAR,"
    " since TIMESTAMPTZ, runs BIGINT, events BIGINT, seconds DOUBLE)",
]

# One row per activity attempt. An attempt is ready when its activity was scheduled (the
# first) or when the attempt before it ended plus its backoff (the next ones); it waited in
# the queue from then until a worker started it.
ATTEMPTS = """
CREATE OR REPLACE TABLE attempts AS
WITH scheduled AS (
    SELECT run_id, seq AS scheduled_seq, "at" AS scheduled_at,
           payload->>'activity_type' AS activity_type, payload->>'queue' AS queue,
           payload->'options'->>'node' AS node
    FROM events WHERE type = 'ActivityScheduled'
),
started AS (
    SELECT run_id, CAST(payload->>'scheduled_seq' AS INTEGER) AS scheduled_seq,
           CAST(payload->>'attempt' AS INTEGER) AS attempt,
           CAST(payload->>'started_at' AS TIMESTAMPTZ) AS started_at,
           payload->>'worker_id' AS worker
    FROM events WHERE type = 'ActivityStarted'
),
ended AS (
    SELECT run_id, CAST(payload->>'scheduled_seq' AS INTEGER) AS scheduled_seq,
           CAST(payload->>'attempt' AS INTEGER) AS attempt, "at" AS ended_at,
           CASE type WHEN 'ActivityCompleted' THEN 'completed'
                     WHEN 'ActivityFailed' THEN 'failed' ELSE 'timed_out' END AS outcome,
           CASE type WHEN 'ActivityFailed' THEN payload->'error'->>'type'
                     WHEN 'ActivityTimedOut' THEN payload->>'timeout_type' END AS error_type,
           COALESCE(CAST(payload->>'retrying' AS BOOLEAN), false) AS retrying,
           CAST(payload->>'next_attempt_in' AS DOUBLE) AS backoff_s
    FROM events WHERE type IN ('ActivityCompleted', 'ActivityFailed', 'ActivityTimedOut')
),
joined AS (
    SELECT s.run_id, s.scheduled_seq, s.activity_type, s.node, s.queue, st.attempt,
           s.scheduled_at,
           st.started_at, e.ended_at, COALESCE(e.outcome, 'running') AS outcome,
           e.error_type, e.retrying, e.backoff_s, st.worker
    FROM scheduled s
    JOIN started st USING (run_id, scheduled_seq)
    LEFT JOIN ended e USING (run_id, scheduled_seq, attempt)
),
ready AS (
    SELECT *, CASE WHEN attempt = 1 THEN scheduled_at ELSE
        lag(ended_at) OVER w + to_microseconds(CAST(
            COALESCE(lag(backoff_s) OVER w, 0) * 1000000 AS BIGINT)) END AS ready_at
    FROM joined
    WINDOW w AS (PARTITION BY run_id, scheduled_seq ORDER BY attempt)
)
SELECT run_id, scheduled_seq, activity_type, node, queue, attempt, scheduled_at, ready_at,
       started_at, ended_at,
       greatest(epoch_ms(started_at) - epoch_ms(ready_at), 0) AS queue_ms,
       epoch_ms(ended_at) - epoch_ms(started_at) AS run_ms,
       outcome, error_type, retrying, worker
FROM ready
ORDER BY run_id, scheduled_seq, attempt
"""

TIMERS = """
CREATE OR REPLACE TABLE timers AS
SELECT t.run_id, t.seq, t."at" AS started_at, CAST(t.payload->>'duration' AS DOUBLE) AS duration_s,
       CAST(t.payload->>'fire_at' AS TIMESTAMPTZ) AS fire_at, f."at" AS fired_at,
       epoch_ms(f."at") - epoch_ms(CAST(t.payload->>'fire_at' AS TIMESTAMPTZ)) AS late_ms,
       CASE WHEN f.seq IS NOT NULL THEN 'fired' ELSE 'pending' END AS state
FROM events t
LEFT JOIN events f ON f.run_id = t.run_id AND f.type = 'TimerFired'
     AND CAST(f.payload->>'started_seq' AS INTEGER) = t.seq
WHERE t.type = 'TimerStarted'
ORDER BY t.run_id, t.seq
"""

SIGNALS = """
CREATE OR REPLACE TABLE signals AS
SELECT run_id, seq, "at", payload->>'name' AS name, payload->'payload' AS payload,
       payload->>'idempotency_key' AS idempotency_key,
       COALESCE(CAST(payload->>'with_start' AS BOOLEAN), false) AS with_start
FROM events WHERE type = 'SignalReceived'
ORDER BY run_id, seq
"""

DAG_NODES = """
CREATE OR REPLACE TABLE dag_nodes AS
SELECT e.run_id, r.workflow_type AS dag, r.code_version, e.payload->'details'->>'node' AS node,
       e.payload->'details'->>'state' AS state, e."at" AS ended_at, e.seq,
       e.payload->'details' AS details
FROM events e JOIN runs r USING (run_id)
WHERE e.type = 'MarkerRecorded' AND e.payload->>'name' = 'dag.node'
ORDER BY e.run_id, e.seq
"""

# Ready-made views over the tables (docs/analysis.md lists them).
VIEWS = [
    """CREATE OR REPLACE VIEW run_durations AS
    SELECT workflow_type, code_version, status, count(*) AS runs,
           quantile_cont(epoch_ms(closed_at) - epoch_ms(created_at), 0.5) AS p50_ms,
           quantile_cont(epoch_ms(closed_at) - epoch_ms(created_at), 0.9) AS p90_ms,
           quantile_cont(epoch_ms(closed_at) - epoch_ms(created_at), 0.99) AS p99_ms,
           max(epoch_ms(closed_at) - epoch_ms(created_at)) AS max_ms
    FROM runs WHERE closed_at IS NOT NULL
    GROUP BY ALL ORDER BY workflow_type, code_version, status""",
    """CREATE OR REPLACE VIEW queue_waits AS
    SELECT queue, activity_type, count(*) AS attempts,
           quantile_cont(queue_ms, 0.5) AS p50_ms, quantile_cont(queue_ms, 0.95) AS p95_ms,
           max(queue_ms) AS max_ms
    FROM attempts WHERE started_at IS NOT NULL
    GROUP BY ALL ORDER BY p95_ms DESC""",
    """CREATE OR REPLACE VIEW retries AS
    SELECT activity_type, count(DISTINCT (run_id, scheduled_seq)) AS activities,
           count(*) AS attempts,
           count(*) FILTER (WHERE attempt > 1) AS retried_attempts,
           max(attempt) AS most_attempts
    FROM attempts GROUP BY ALL ORDER BY retried_attempts DESC""",
    """CREATE OR REPLACE VIEW failures_by_cause AS
    SELECT activity_type, outcome, error_type, count(*) AS attempts,
           count(*) FILTER (WHERE NOT retrying) AS final, max(ended_at) AS last_seen
    FROM attempts WHERE outcome IN ('failed', 'timed_out')
    GROUP BY ALL ORDER BY attempts DESC""",
    """CREATE OR REPLACE VIEW timer_lateness AS
    SELECT r.workflow_type, count(*) AS timers,
           quantile_cont(t.late_ms, 0.5) AS p50_late_ms,
           quantile_cont(t.late_ms, 0.99) AS p99_late_ms, max(t.late_ms) AS max_late_ms
    FROM timers t JOIN runs r USING (run_id) WHERE t.state = 'fired'
    GROUP BY ALL ORDER BY p99_late_ms DESC""",
    """CREATE OR REPLACE VIEW schedule_lateness AS
    SELECT s.namespace, s.schedule, count(*) AS slots,
           count(*) FILTER (WHERE s.state = 'started') AS started,
           count(*) FILTER (WHERE s.state = 'skipped') AS skipped,
           count(*) FILTER (WHERE s.state = 'buffered') AS buffered,
           quantile_cont(epoch_ms(r.created_at) - epoch_ms(s.slot), 0.5) AS p50_start_lag_ms,
           quantile_cont(epoch_ms(r.created_at) - epoch_ms(s.slot), 0.99) AS p99_start_lag_ms,
           max(epoch_ms(r.created_at) - epoch_ms(s.slot)) AS max_start_lag_ms
    FROM schedule_slots s LEFT JOIN runs r USING (run_id)
    GROUP BY ALL ORDER BY p99_start_lag_ms DESC NULLS LAST""",
    """CREATE OR REPLACE VIEW dag_node_stats AS
    SELECT dag, node, count(*) AS runs,
           count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE state IN ('failed', 'timed_out')) AS failed,
           count(*) FILTER (WHERE state IN ('skipped', 'upstream_failed')) AS not_run
    FROM dag_nodes GROUP BY ALL ORDER BY dag, node""",
]
VIEW_NAMES = (
    "run_durations",
    "queue_waits",
    "retries",
    "failures_by_cause",
    "timer_lateness",
    "schedule_lateness",
    "dag_node_stats",
)

DERIVED = [ATTEMPTS, TIMERS, SIGNALS, DAG_NODES]

TABLES = ("runs", "events", "attempts", "timers", "signals", "dag_nodes", "schedule_slots")
