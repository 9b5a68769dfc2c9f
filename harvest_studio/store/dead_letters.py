"""Dead letters: tasks quarantined after crashing their workers (``harvest.dead_letters``)
and runs that failed on an activity whose retries ran out, with what an operator did about
them (``failed_run_triage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ._sql import TASKS_CHANNEL, Row

_QUARANTINED = """
SELECT 'dl-' || d.id AS id, 'quarantined' AS kind, d.run_id::text AS run_id, r.workflow_id,
       r.workflow_type, d.type_name, d.kind AS task_kind,
       coalesce(NULLIF(d.task->'last_error', 'null'::jsonb), jsonb_build_object(
           'type', 'WorkerCrash',
           'message', d.kind || ' task ' || d.type_name || ' crashed its worker '
                      || (coalesce((d.task->>'crash_strikes')::int, 0) + 1) || ' times')) AS error,
       coalesce((d.task->>'retry_attempt')::int, 1) AS attempts,
       d.task->'heartbeat_details' AS heartbeat_details,
       (d.task->>'activity_seq')::int AS activity_seq,
       d.created_at, d.resolution, d.resolved_at, d.resolved_by, d.resolution_note,
       NULL::text AS new_run_id
FROM harvest.dead_letters d JOIN harvest.runs r ON r.run_id = d.run_id
WHERE d.namespace = %(ns)s AND (%(resolved)s OR d.resolved_at IS NULL)
  AND (%(since)s::timestamptz IS NULL OR d.created_at >= %(since)s)
  AND (%(id)s::text IS NULL OR 'dl-' || d.id = %(id)s)
"""

_FAILED_RUNS = """
SELECT 'run-' || r.run_id AS id, 'failed_run' AS kind, r.run_id::text AS run_id, r.workflow_id,
       r.workflow_type, coalesce(s.payload->>'activity_type', '?') AS type_name,
       'activity' AS task_kind,
       coalesce(f.payload->'error', r.error) AS error,
       coalesce((f.payload->>'attempt')::int, 1) AS attempts,
       NULL::jsonb AS heartbeat_details,
       (f.payload->>'scheduled_seq')::int AS activity_seq,
       r.closed_at AS created_at, t.resolution, t.at AS resolved_at, t.actor AS resolved_by,
       t.note AS resolution_note, t.new_run_id::text AS new_run_id
FROM harvest.runs r
LEFT JOIN LATERAL (
    SELECT h.payload FROM harvest.history h
    WHERE h.run_id = r.run_id AND h.event_type = 'ActivityFailed'
    ORDER BY h.seq DESC LIMIT 1) f ON true
LEFT JOIN harvest.history s
    ON s.run_id = r.run_id AND s.seq = (f.payload->>'scheduled_seq')::int
LEFT JOIN harvest.failed_run_triage t ON t.run_id = r.run_id
WHERE r.namespace = %(ns)s AND r.status = 'FAILED' AND r.error->>'type' = 'ActivityError'
  AND (%(resolved)s OR (t.run_id IS NULL AND NOT EXISTS (
       SELECT 1 FROM harvest.runs n WHERE n.reset_from = r.run_id)))
  AND (%(since)s::timestamptz IS NULL OR r.closed_at >= %(since)s)
  AND (%(id)s::text IS NULL OR 'run-' || r.run_id = %(id)s)
"""


async def list_dead_letters(
    conn: AsyncConnection[Any],
    namespace: str,
    *,
    kind: str | None = None,
    workflow_type: str | None = None,
    type_name: str | None = None,
    since: datetime | None = None,
    include_resolved: bool = False,
    letter_id: str | None = None,
    limit: int = 1000,
) -> list[Row]:
    """Dead letters of both kinds, newest first (``kind``: ``quarantined`` or
    ``failed_run``; ``type_name``: the task's activity or workflow type)."""
    parts = []
    if kind in (None, "quarantined"):
        parts.append(_QUARANTINED)
    if kind in (None, "failed_run"):
        parts.append(_FAILED_RUNS)
    if not parts:
        return []
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM (" + " UNION ALL ".join(parts) + ") x"
        " WHERE (%(wf)s::text IS NULL OR x.workflow_type = %(wf)s)"
        "   AND (%(tn)s::text IS NULL OR x.type_name = %(tn)s)"
        " ORDER BY x.created_at DESC, x.id LIMIT %(limit)s",
        {"ns": namespace, "resolved": include_resolved, "since": since, "id": letter_id,
         "wf": workflow_type, "tn": type_name, "limit": limit},
    )
    return await cur.fetchall()


async def attempt_failures(
    conn: AsyncConnection[Any], run_id: str, activity_seq: int
) -> list[Row]:
    """Every recorded failure of one activity of a run, in order (its attempts)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, at, payload FROM harvest.history WHERE run_id = %s::uuid"
        " AND event_type = 'ActivityFailed' AND (payload->>'scheduled_seq')::int = %s"
        " ORDER BY seq",
        (run_id, activity_seq),
    )
    return await cur.fetchall()


async def replay_quarantined(
    conn: AsyncConnection[Any], namespace: str, letter: int, actor: str, note: str | None
) -> int | None:
    """Queue a quarantined task again as a fresh task (new id, no crash strikes, a fresh
    attempt budget, no deadlines) and mark the letter replayed; returns the new task id, or
    None when the letter is gone or already resolved. The run's quarantine mark is lifted."""
    async with conn.transaction():
        cur = await conn.execute(  # (a letter whose run has ended since is not replayed)
            "SELECT d.task, d.run_id FROM harvest.dead_letters d"
            " JOIN harvest.runs r ON r.run_id = d.run_id AND r.status = 'RUNNING'"
            " WHERE d.id = %s AND d.namespace = %s AND d.resolved_at IS NULL FOR UPDATE OF d",
            (letter, namespace),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        task, run_id = row
        cur = await conn.execute(
            """
            INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state,
                priority, fair_round, activity_seq, retry_attempt, input, retry_policy,
                start_to_close, schedule_to_start, heartbeat_timeout, max_concurrent,
                heartbeat_details)
            SELECT t.namespace, t.kind, t.run_id, t.type_name, t.queue, 'PENDING', t.priority,
                   t.fair_round, t.activity_seq, 1, t.input, t.retry_policy, t.start_to_close,
                   t.schedule_to_start, t.heartbeat_timeout, t.max_concurrent,
                   t.heartbeat_details
            FROM jsonb_populate_record(NULL::harvest.tasks, %s) t
            ON CONFLICT (run_id) WHERE kind = 'workflow' DO UPDATE SET dirty = true
            RETURNING task_id
            """,
            (Jsonb(task),),
        )
        new = await cur.fetchone()
        assert new is not None
        await conn.execute(
            "UPDATE harvest.dead_letters SET resolved_at = clock_timestamp(),"
            " resolution = 'replayed', resolved_by = %s, resolution_note = %s,"
            " replayed_task_id = %s WHERE id = %s",
            (actor, note, new[0], letter),
        )
        await conn.execute(
            "UPDATE harvest.runs SET blocked = NULL WHERE run_id = %s"
            " AND blocked->>'kind' = 'quarantined' AND blocked->>'task_id' = %s",
            (run_id, str(task.get("task_id"))),
        )
        await conn.execute("SELECT pg_notify(%s, '*')", (TASKS_CHANNEL,))
    return int(new[0])


async def discard_quarantined(
    conn: AsyncConnection[Any], namespace: str, letter: int, actor: str, note: str
) -> bool:
    cur = await conn.execute(
        "UPDATE harvest.dead_letters SET resolved_at = clock_timestamp(),"
        " resolution = 'discarded', resolved_by = %s, resolution_note = %s"
        " WHERE id = %s AND namespace = %s AND resolved_at IS NULL",
        (actor, note, letter, namespace),
    )
    return cur.rowcount == 1


async def triage_failed_run(
    conn: AsyncConnection[Any],
    namespace: str,
    run_id: str,
    resolution: str,
    actor: str,
    note: str | None,
    new_run_id: str | None = None,
) -> bool:
    """Record what was done about a failed run; False if it was already triaged."""
    cur = await conn.execute(
        "INSERT INTO harvest.failed_run_triage (run_id, namespace, resolution, note, actor,"
        " new_run_id) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
        (run_id, namespace, resolution, note, actor, new_run_id),
    )
    return cur.rowcount == 1
