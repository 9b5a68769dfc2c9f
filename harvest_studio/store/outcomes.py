"""Activity outcomes and heartbeats: ending activity tasks in ``harvest.tasks`` and
queueing their events in ``harvest.inbox``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import TASKS_CHANNEL, Row


@dataclass(frozen=True)
class AttemptText:
    """What one attempt printed or logged: its last characters, and how many were cut."""

    activity_seq: int
    attempt: int
    text: str
    dropped: int = 0


@dataclass
class ActivityOutcome:
    """The end of one activity attempt. ``final`` removes the task; otherwise it is re-queued
    after ``delay`` seconds. ``events`` go to the run's inbox as (type, payload JSON)."""

    task_id: int
    worker_id: str | None
    attempt: int
    final: bool
    delay: float = 0.0
    events: list[tuple[str, str]] = field(default_factory=list)
    last_error_json: str | None = None
    count_retry: bool = True
    details_json: str | None = None
    output: AttemptText | None = None


_ACTIVITY_OUTCOMES_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(task_ids)s::bigint[], %(workers)b::text[], %(attempts)s::int[],
                         %(final)s::bool[], %(delays)s::float8[], %(errors)b::text[],
                         %(count_retry)s::bool[], %(details)b::text[])
        AS i(task_id, worker_id, attempt, final, delay, last_error, count_retry, details)
),
finished AS (
    DELETE FROM harvest.tasks t USING input i
    WHERE t.task_id = i.task_id AND t.worker_id IS NOT DISTINCT FROM i.worker_id
      AND t.attempt = i.attempt AND i.final
    RETURNING t.task_id, t.run_id
),
retried AS (
    UPDATE harvest.tasks t SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,
        visible_at = harvest.now() + make_interval(secs => i.delay),
        retry_attempt = t.retry_attempt + CASE WHEN i.count_retry THEN 1 ELSE 0 END,
        crash_strikes = 0,
        last_error = i.last_error::jsonb, attempt_deadline = NULL, heartbeat_deadline = NULL,
        heartbeat_details = COALESCE(i.details::jsonb, t.heartbeat_details),
        start_deadline = harvest.now() + make_interval(secs => i.delay + t.schedule_to_start)
    FROM input i
    WHERE t.task_id = i.task_id AND t.worker_id IS NOT DISTINCT FROM i.worker_id
      AND t.attempt = i.attempt AND NOT i.final
    RETURNING t.task_id, t.run_id
),
ended AS (SELECT * FROM finished UNION ALL SELECT * FROM retried),
logged AS (
    INSERT INTO harvest.attempt_logs (run_id, activity_seq, attempt, output, dropped)
    SELECT ended.run_id, o.activity_seq, o.attempt, o.output, o.dropped
    FROM unnest(%(out_tasks)s::bigint[], %(out_seqs)s::int[], %(out_attempts)s::int[],
                %(out_texts)s::text[], %(out_dropped)s::int[])
        AS o(task_id, activity_seq, attempt, output, dropped)
    JOIN ended USING (task_id)
    ON CONFLICT (run_id, activity_seq, attempt) DO NOTHING
),
events AS (
    SELECT * FROM unnest(%(ev_tasks)s::bigint[], %(ev_types)b::text[], %(ev_payloads)b::text[])
        WITH ORDINALITY AS e(task_id, event_type, payload, ord)
),
queued AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload)
    SELECT ended.run_id, e.event_type, e.payload::jsonb
    FROM events e JOIN ended USING (task_id) ORDER BY e.ord
    RETURNING id, run_id, event_type, at, payload
),
woken AS (
    INSERT INTO harvest.tasks AS w (namespace, kind, run_id, type_name, queue, state,
                                    worker_id, attempt, lease_expires_at, visible_at,
                                    priority, fair_round)
    SELECT r.namespace, 'workflow', r.run_id, r.workflow_type, r.queue,
        CASE WHEN r.eager THEN 'RUNNING' ELSE 'PENDING' END,
        CASE WHEN r.eager THEN %(eager_worker)s END,
        CASE WHEN r.eager THEN 1 ELSE 0 END,
        CASE WHEN r.eager THEN harvest.now() + make_interval(secs => %(lease)s) END,
        r.created_at,  -- runs in progress go ahead of runs not begun (see _wake_cte)
        r.priority, r.fair_round
    FROM (SELECT DISTINCT run_id FROM ended) e
    JOIN LATERAL (
        SELECT r.*, r.workflow_type = ANY(%(eager_types)s)
            -- a paused queue's work waits for a claim after the resume
            AND NOT EXISTS (SELECT 1 FROM harvest.flow_limits f
                            WHERE f.namespace = r.namespace AND f.scope = 'queue'
                              AND f.name = r.queue AND f.paused) AS eager
        FROM harvest.runs r WHERE r.run_id = e.run_id AND r.status = 'RUNNING'
    ) r ON true
    ON CONFLICT (run_id) WHERE kind = 'workflow' DO UPDATE SET dirty = true
    RETURNING w.task_id, w.run_id, w.type_name, w.namespace, w.queue, w.attempt,
              w.state = 'RUNNING' AND w.xmax = 0 AS owned
),
notified AS (
    SELECT pg_notify(%(tasks_channel)s, '*')
    WHERE EXISTS (SELECT 1 FROM woken WHERE NOT owned) OR EXISTS (SELECT 1 FROM retried)
)
SELECT 'ended' AS what, task_id, NULL::text AS run_id, NULL::text AS type_name,
       NULL::text AS namespace, NULL::text AS queue, NULL::int AS attempt, false AS owned,
       NULL::int AS last_seq, NULL::jsonb AS inbox
FROM ended
UNION ALL
SELECT 'woken', w.task_id, w.run_id::text, w.type_name, w.namespace, w.queue, w.attempt, w.owned,
       (SELECT r.last_seq FROM harvest.runs r WHERE r.run_id = w.run_id),
       (SELECT jsonb_agg(jsonb_build_object('id', q.id, 'event_type', q.event_type,
                                            'at', q.at, 'payload', q.payload) ORDER BY q.id)
        FROM queued q WHERE q.run_id = w.run_id)
FROM woken w
UNION ALL
SELECT 'notified', count(*), NULL, NULL, NULL, NULL, NULL, false, NULL, NULL FROM notified
"""


@dataclass
class ActivityOutcomeResult:
    ended: set[int]
    owned_workflow_tasks: list[Row]


async def apply_activity_outcomes(
    conn: AsyncConnection[Any],
    outcomes: Sequence[ActivityOutcome],
    *,
    eager_worker: str | None = None,
    eager_types: Sequence[str] = (),
    lease_seconds: float = 30.0,
) -> ActivityOutcomeResult:
    """End activity attempts (fenced), queue their events and wake their workflows.

    If ``eager_worker`` serves a woken workflow type and no workflow task exists yet, the new
    task is created already claimed by that worker (it can run the decision at once).
    """
    result = ActivityOutcomeResult(set(), [])
    if not outcomes:
        return result
    ev = [(o.task_id, t, p) for o in outcomes for t, p in o.events]
    out = [(o.task_id, o.output) for o in outcomes if o.output is not None]
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        _ACTIVITY_OUTCOMES_SQL,
        {
            "task_ids": [o.task_id for o in outcomes],
            "workers": [o.worker_id for o in outcomes],
            "attempts": [o.attempt for o in outcomes],
            "final": [o.final for o in outcomes],
            "delays": [o.delay for o in outcomes],
            "errors": [o.last_error_json for o in outcomes],
            "count_retry": [o.count_retry for o in outcomes],
            "details": [o.details_json for o in outcomes],
            "ev_tasks": [e[0] for e in ev],
            "ev_types": [e[1] for e in ev],
            "ev_payloads": [e[2] for e in ev],
            "out_tasks": [task for task, _ in out],
            "out_seqs": [text.activity_seq for _, text in out],
            "out_attempts": [text.attempt for _, text in out],
            "out_texts": [text.text for _, text in out],
            "out_dropped": [text.dropped for _, text in out],
            "eager_types": list(eager_types) if eager_worker else [],
            "eager_worker": eager_worker,
            "lease": lease_seconds,
            "tasks_channel": TASKS_CHANNEL,
        },
    )
    for row in await cur.fetchall():
        if row["what"] == "ended":
            result.ended.add(row["task_id"])
        elif row["what"] == "woken" and row["owned"]:
            row["inbox"] = [
                {**item, "at": datetime.fromisoformat(item["at"])} for item in row["inbox"] or []
            ]
            result.owned_workflow_tasks.append(row)
    return result


async def heartbeat_activity(
    conn: AsyncConnection[Any],
    *,
    task_id: int,
    worker_id: str,
    attempt: int,
    details_json: str | None,
) -> str:
    """Record heartbeat details and push the heartbeat deadline.

    Returns ``"ok"``, ``"lost"`` (the claim moved: stop) or ``"cancel"`` (the run was asked
    to cancel: the activity should wind down).
    """
    cur = await conn.execute(
        "UPDATE harvest.tasks t SET heartbeat_details = COALESCE(%s::jsonb, heartbeat_details),"
        " heartbeat_deadline = harvest.now() + make_interval(secs => heartbeat_timeout)"
        " WHERE task_id = %s AND worker_id = %s AND attempt = %s AND state = 'RUNNING'"
        " RETURNING (SELECT r.cancel_requested_at IS NOT NULL FROM harvest.runs r"
        "            WHERE r.run_id = t.run_id)",
        (details_json, task_id, worker_id, attempt),
    )
    row = await cur.fetchone()
    if row is None:
        return "lost"
    return "cancel" if row[0] else "ok"
