"""Timers (``harvest.timers``), expired leases and activity/run timeouts: the sweeps."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import TASKS_CHANNEL, Row, _wake_cte
from .inbox import close_runs

_FIRE_TIMERS_SQL = f"""
WITH due AS (
    DELETE FROM harvest.timers WHERE (run_id, seq) IN (
        SELECT run_id, seq FROM harvest.timers WHERE fires_at <= harvest.now()
        ORDER BY fires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING run_id, seq
),
queued AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload, dedupe_key)
    SELECT run_id, 'TimerFired', jsonb_build_object('started_seq', seq), 'timer:' || seq
    FROM due ORDER BY seq
    ON CONFLICT DO NOTHING
    RETURNING run_id
),
{_wake_cte("woken", "due")}
SELECT count(*) FROM due
"""


async def fire_due_timers(conn: AsyncConnection[Any], limit: int = 500) -> int:
    """Fire timers whose time has come (database clock): exactly once each."""
    async with conn.transaction():
        cur = await conn.execute(_FIRE_TIMERS_SQL, {"limit": limit})
        row = await cur.fetchone()
        fired = int(row[0]) if row else 0
        if fired:
            await conn.execute("SELECT pg_notify(%s, '*')", (TASKS_CHANNEL,))
    return fired


async def seconds_to_next_timer(conn: AsyncConnection[Any]) -> float | None:
    cur = await conn.execute(
        "SELECT EXTRACT(EPOCH FROM (min(fires_at) - harvest.now()))::float8 FROM harvest.timers"
    )
    row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


_RECLAIM_SQL = """
WITH expired AS (
    SELECT task_id FROM harvest.tasks
    WHERE state = 'RUNNING' AND lease_expires_at < harvest.now()
    ORDER BY lease_expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
),
requeued AS (
    UPDATE harvest.tasks t SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,
        crash_strikes = t.crash_strikes + 1, visible_at = harvest.now(),
        attempt_deadline = NULL, heartbeat_deadline = NULL
    FROM expired e WHERE t.task_id = e.task_id AND t.crash_strikes + 1 < %(max_strikes)s
    RETURNING t.task_id
),
quarantined AS (
    DELETE FROM harvest.tasks t USING expired e
    WHERE t.task_id = e.task_id AND t.crash_strikes + 1 >= %(max_strikes)s
    RETURNING t.*
),
dead AS (
    INSERT INTO harvest.dead_letters (namespace, task_id, kind, run_id, type_name, reason, task)
    SELECT q.namespace, q.task_id, q.kind, q.run_id, q.type_name, 'crashed_worker',
           to_jsonb(q)
    FROM quarantined q
    RETURNING run_id, task_id, kind, type_name
),
marked AS (
    UPDATE harvest.runs r SET blocked = jsonb_build_object(
        'kind', 'quarantined', 'task_id', d.task_id, 'task_kind', d.kind,
        'type_name', d.type_name,
        'message', 'task crashed its worker ' || %(max_strikes)s || ' times; see dead letters')
    FROM dead d WHERE r.run_id = d.run_id
    RETURNING r.run_id
)
SELECT (SELECT count(*) FROM requeued) AS requeued, (SELECT count(*) FROM dead) AS quarantined
"""


async def reclaim_expired_leases(
    conn: AsyncConnection[Any], *, max_strikes: int = 3, limit: int = 200
) -> tuple[int, int]:
    """Re-queue tasks whose owner stopped renewing its lease; quarantine repeat offenders."""
    async with conn.transaction():
        cur = await conn.execute(_RECLAIM_SQL, {"max_strikes": max_strikes, "limit": limit})
        row = await cur.fetchone()
        requeued, quarantined = (int(row[0]), int(row[1])) if row else (0, 0)
        if requeued:
            await conn.execute("SELECT pg_notify(%s, '*')", (TASKS_CHANNEL,))
    return requeued, quarantined


_TIMED_OUT_ACTIVITIES_SQL = """
SELECT task_id, run_id::text AS run_id, worker_id, attempt, activity_seq, retry_attempt,
       retry_policy, state, started_at,
       CASE WHEN close_deadline <= harvest.now() THEN 'schedule_to_close'
            WHEN state = 'PENDING' AND start_deadline <= harvest.now() THEN 'schedule_to_start'
            WHEN state = 'RUNNING' AND attempt_deadline <= harvest.now() THEN 'start_to_close'
            ELSE 'heartbeat' END AS timeout_type
FROM harvest.tasks
WHERE kind = 'activity' AND (
    close_deadline <= harvest.now()
    OR (state = 'PENDING' AND start_deadline <= harvest.now())
    OR (state = 'RUNNING' AND (attempt_deadline <= harvest.now()
                               OR heartbeat_deadline <= harvest.now())))
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


async def lock_timed_out_activities(conn: AsyncConnection[Any], limit: int = 200) -> list[Row]:
    """Lock activity tasks past one of their deadlines. Call inside a transaction."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_TIMED_OUT_ACTIVITIES_SQL, {"limit": limit})
    return await cur.fetchall()


async def time_out_runs(conn: AsyncConnection[Any], limit: int = 100) -> list[str]:
    """End runs past their execution timeout with ``WorkflowTimedOut``."""
    cur = await conn.execute(
        "SELECT run_id::text FROM harvest.runs"
        " WHERE status = 'RUNNING' AND deadline <= harvest.now()"
        " ORDER BY deadline LIMIT %s",
        (limit,),
    )
    due = [r[0] for r in await cur.fetchall()]
    ended = await close_runs(
        conn,
        due,
        status="TIMED_OUT",
        event_type="WorkflowTimedOut",
        payload_sql="jsonb_build_object('timeout',"
        " EXTRACT(EPOCH FROM (r.deadline - r.created_at))::float8)",
        error_json='{"type": "WorkflowTimedOut", "message": "run exceeded its execution timeout"}',
        only_past_deadline=True,
    )
    return [run_id for run_id, _ in ended]
