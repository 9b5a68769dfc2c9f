"""Claiming tasks from ``harvest.tasks``: claims, lease renewal and handing a task back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row

_CLAIM_COLUMNS = """
    t.task_id, t.kind, t.run_id::text AS run_id, t.type_name, t.namespace, t.queue,
    t.attempt, t.activity_seq, t.retry_attempt, t.input, t.retry_policy,
    t.heartbeat_details, t.heartbeat_timeout, t.start_to_close, t.started_at,
    t.attempt_deadline, r.last_seq, r.blocked, r.workflow_id, r.workflow_type,
    -- a run nobody has decided yet: hand over its start event with the claim
    CASE WHEN r.last_seq = 1 THEN
        (SELECT jsonb_build_object('seq', h.seq, 'event_type', h.event_type, 'at', h.at,
                                   'payload', h.payload)
         FROM harvest.history h WHERE h.run_id = t.run_id AND h.seq = 1) END AS first_event,
    -- (the statement's snapshot may predate an event that marked the task dirty just
    -- before the pick locked it: the locked row's flag tells what the snapshot missed)
    t.kind <> 'workflow' OR (SELECT p.dirty FROM picked p WHERE p.task_id = t.task_id)
        OR EXISTS (SELECT 1 FROM harvest.inbox b WHERE b.run_id = t.run_id) AS has_inbox
"""

_CLAIM_SET = """
    state = 'RUNNING', worker_id = %(worker)s, attempt = t.attempt + 1, dirty = false,
    lease_expires_at = harvest.now() + make_interval(secs => %(lease)s),
    started_at = harvest.now(),
    attempt_deadline = harvest.now() + make_interval(secs => t.start_to_close),
    heartbeat_deadline = harvest.now() + make_interval(secs => t.heartbeat_timeout)
"""


def claim_sql(pick: str) -> str:
    """Claim the tasks ``pick`` selects (``task_id`` and ``dirty`` of an ordered, limited,
    ``SKIP LOCKED`` scan of the partial index), then read what a workflow task's claim
    needs of its run.

    The claim clears ``dirty``; the value the pick locked is what says an inbox event came
    in after the statement's snapshot was taken (a signal that committed between the two).
    Without it, a fresh run's claim would report no inbox, its first decision would close
    the task, and the event would sit in the inbox with nothing to wake the run.

    The picked ids reach the ``UPDATE`` as ``task_id = ANY(ARRAY(...))``: an index lookup
    per claimed task whatever the plan. (Joined as a subquery instead, the generic plan of
    the worker's connections -- ``plan_cache_mode=force_generic_plan`` -- guessed 10% of the
    table for the unknown LIMIT and hash-joined it against a full scan of ``tasks``: 22 ms
    per claim at 100,000 pending instead of 0.3 ms.)
    """
    return f"""
WITH picked AS MATERIALIZED ({pick}),
claimed AS (
    UPDATE harvest.tasks t SET {_CLAIM_SET}
    WHERE t.task_id = ANY(ARRAY(SELECT task_id FROM picked))
    RETURNING t.*
)
SELECT {_CLAIM_COLUMNS}
FROM claimed t
LEFT JOIN harvest.runs r ON r.run_id = t.run_id
"""


_CLAIM_SQL = claim_sql("""
    SELECT p.task_id, p.dirty
    FROM harvest.tasks p
    LEFT JOIN harvest.runs pr ON p.kind = 'workflow' AND pr.run_id = p.run_id
    WHERE p.state = 'PENDING' AND p.namespace = %(namespace)s AND p.queue = %(queue)s
      AND p.visible_at <= harvest.now() AND pr.paused IS NOT TRUE
      -- a run held under a workflow limit is admitted by store.flow.admit_runs
      AND pr.held IS NOT TRUE
      AND ((p.kind IN ('workflow', 'query') AND p.type_name = ANY(%(workflows)s))
           OR (p.kind = 'activity' AND p.max_concurrent IS NULL
               AND p.type_name = ANY(%(activities)s)
               -- throttled work goes through store.flow (whatever the worker believes)
               AND NOT EXISTS (SELECT 1 FROM harvest.flow_limits f
                               WHERE f.namespace = %(namespace)s
                                 AND ((f.scope = 'queue' AND f.name = %(queue)s)
                                      OR (f.scope = 'activity' AND f.name = p.type_name)))))
      -- a paused queue still answers queries
      AND (p.kind = 'query' OR NOT EXISTS (SELECT 1 FROM harvest.flow_limits f
                                          WHERE f.namespace = %(namespace)s
                                            AND f.scope = 'queue' AND f.name = %(queue)s
                                            AND f.paused))
    ORDER BY p.priority DESC, p.fair_round, p.visible_at
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
""")


async def claim_tasks(
    conn: AsyncConnection[Any],
    *,
    worker_id: str,
    namespace: str,
    queues: Sequence[str],
    workflows: Sequence[str],
    activities: Sequence[str],
    limit: int,
    lease_seconds: float,
) -> list[Row]:
    """Claim up to ``limit`` pending tasks: workflow tasks, and activity tasks no limit
    covers (``store.flow`` claims the others).

    One statement per queue: an equality on the queue lets the claim read the partial
    index in order and stop after ``limit`` rows, however many tasks are pending.
    """
    cur = conn.cursor(row_factory=dict_row)
    claimed: list[Row] = []
    for queue in queues:
        if len(claimed) >= limit:
            break
        await cur.execute(
            _CLAIM_SQL,
            {
                "worker": worker_id,
                "namespace": namespace,
                "queue": queue,
                "workflows": list(workflows),
                "activities": list(activities),
                "limit": limit - len(claimed),
                "lease": lease_seconds,
            },
        )
        claimed += await cur.fetchall()
    return claimed


async def renew_leases(
    conn: AsyncConnection[Any],
    worker_id: str,
    held: Sequence[tuple[int, int]],
    lease_seconds: float,
) -> int:
    """Extend the leases of the tasks this worker works on now (``(task_id, attempt)``
    pairs), stamped with the database clock, and its own heartbeat.

    Only tasks held in memory are renewed: one the worker lost track of (a failed batch)
    must expire and be reclaimed. Rows another transaction has locked (an outcome being
    written) are skipped rather than waited for, so renewal never takes part in a deadlock.
    """
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE harvest.tasks t"
            " SET lease_expires_at = harvest.now() + make_interval(secs => %s)"
            " FROM (SELECT t2.task_id FROM harvest.tasks t2"
            "   JOIN unnest(%s::bigint[], %s::int[]) AS h(task_id, attempt)"
            "     ON t2.task_id = h.task_id AND t2.attempt = h.attempt"
            "   WHERE t2.worker_id = %s AND t2.state = 'RUNNING'"
            "   ORDER BY t2.task_id FOR UPDATE OF t2 SKIP LOCKED) s"
            " WHERE t.task_id = s.task_id",
            (lease_seconds, [t for t, _ in held], [a for _, a in held], worker_id),
        )
        await conn.execute(
            "UPDATE harvest.workers SET heartbeat_at = harvest.now() WHERE worker_id = %s",
            (worker_id,),
        )
    return cur.rowcount


async def release_task(
    conn: AsyncConnection[Any], *, task_id: int, attempt: int, worker_id: str, delay: float
) -> bool:
    """Give a claimed task back (e.g. the worker is shutting down or the task errored)."""
    cur = await conn.execute(
        "UPDATE harvest.tasks SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,"
        " visible_at = harvest.now() + make_interval(secs => %s)"
        " WHERE task_id = %s AND worker_id = %s AND attempt = %s AND state = 'RUNNING'",
        (delay, task_id, worker_id, attempt),
    )
    return cur.rowcount == 1
