"""Events from outside a run: signals and cancel requests (``harvest.inbox``), closing,
resetting and pausing runs, and updates (``harvest.updates``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from ._sql import QUERIES_CHANNEL, RUNS_CHANNEL, TASKS_CHANNEL, Row, _wake_cte

# ---------------------------------------------------------------------------------------
# events from outside: signals, cancel requests
# ---------------------------------------------------------------------------------------
_QUEUE_EVENT_SQL = (
    """
WITH run AS (
    SELECT run_id, namespace, workflow_type, queue FROM harvest.runs
    WHERE run_id = %(run_id)s AND status = 'RUNNING'
    FOR NO KEY UPDATE
),
fresh AS (
    INSERT INTO harvest.signal_keys (run_id, key)
    SELECT run_id, %(key)s FROM run WHERE %(key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING run_id
),
queued AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload)
    SELECT run_id, %(event_type)s, %(payload)s::jsonb FROM run
    WHERE %(key)s::text IS NULL OR EXISTS (SELECT 1 FROM fresh)
    RETURNING run_id
),
marked AS (
    UPDATE harvest.runs r SET cancel_requested_at = COALESCE(r.cancel_requested_at, harvest.now())
    FROM queued q WHERE r.run_id = q.run_id AND %(event_type)s = 'CancelRequested'
    RETURNING 1
),
"""
    + _wake_cte("woken", "queued")
    + """,
notified AS (SELECT pg_notify(%(channel)s, queue) FROM woken)
SELECT (SELECT count(*) FROM run) AS running, (SELECT count(*) FROM queued) AS queued,
       (SELECT count(*) FROM notified) AS notified, (SELECT count(*) FROM marked) AS marked
"""
)


async def queue_event(
    conn: AsyncConnection[Any],
    run_id: str,
    event_type: str,
    payload_json: str,
    *,
    dedupe_key: str | None = None,
) -> str:
    """Put an event in a running run's inbox and wake it, atomically.

    Returns ``"queued"``, ``"duplicate"`` (``dedupe_key`` was used before on this run) or
    ``"not_running"``. The run row is locked first, so an event is either queued before the
    run's final decision (which then sees it) or refused because the run has ended. A
    deadlock or serialization failure is raised, not retried here: the caller's whole
    transaction is what can be run again.
    """
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        _QUEUE_EVENT_SQL,
        {
            "run_id": run_id,
            "event_type": event_type,
            "payload": payload_json,
            "key": dedupe_key,
            "channel": TASKS_CHANNEL,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    if not row["running"]:
        return "not_running"
    return "queued" if row["queued"] else "duplicate"


async def close_runs(
    conn: AsyncConnection[Any],
    run_ids: Sequence[str],
    *,
    status: str,
    event_type: str,
    payload_sql: str = "'{}'::jsonb",
    payload_json: str | None = None,
    error_json: str | None,
    only_past_deadline: bool = False,
) -> list[tuple[str, int]]:
    """End runs from outside their code (terminate, execution timeout).

    Locks the runs' tasks before the run rows, in the same order a decision does, so an
    in-flight decision either commits first (and is kept) or finds its task gone.
    ``payload_sql`` is a fixed SQL expression over ``r`` (the run row) for the event payload.
    Returns (run_id, seq of the closing event) for each run actually closed.
    """
    if not run_ids:
        return []
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM harvest.tasks WHERE run_id = ANY(%s::uuid[]) AND kind <> 'query'",
            (list(run_ids),),
        )
        deadline_clause = "AND deadline <= harvest.now()" if only_past_deadline else ""
        cur = await conn.execute(
            sql.SQL(
                "UPDATE harvest.runs r SET status = %s, closed_at = harvest.now(),"
                " last_seq = last_seq + 1, error = %s::jsonb"
                " WHERE run_id = ANY(%s::uuid[]) AND status = 'RUNNING' {deadline}"
                " RETURNING run_id::text, last_seq, COALESCE(%s::jsonb, {payload})::text"
            ).format(deadline=sql.SQL(deadline_clause), payload=sql.SQL(payload_sql)),
            (status, error_json, list(run_ids), payload_json),
        )
        ended = await cur.fetchall()
        if not ended:
            return []
        ids = [r[0] for r in ended]
        await conn.execute(
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " SELECT r, s, %s, harvest.now(), p::jsonb"
            " FROM unnest(%s::uuid[], %s::int[], %b::text[])"
            " AS u(r, s, p)",
            (event_type, ids, [r[1] for r in ended], [r[2] for r in ended]),
        )
        await conn.execute("DELETE FROM harvest.timers WHERE run_id = ANY(%s::uuid[])", (ids,))
        await conn.execute("DELETE FROM harvest.inbox WHERE run_id = ANY(%s::uuid[])", (ids,))
        for run_id in ids:
            await conn.execute("SELECT pg_notify(%s, %s)", (RUNS_CHANNEL, run_id))
        await conn.execute(_TELL_PARENTS_SQL, {"ids": ids, "channel": TASKS_CHANNEL})
        for run_id in ids:
            await record_update_outcomes(conn, run_id, [], run_ended=True)
        await apply_parent_close_policies(conn, ids)
    return [(r[0], int(r[1])) for r in ended]


_TELL_PARENTS_SQL = (
    """
WITH told AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload)
    SELECT c.parent_run_id, 'ChildWorkflowFailed',
        jsonb_build_object('started_seq', c.parent_seq, 'run_id', c.run_id,
                           'status', c.status, 'error', c.error)
    FROM harvest.runs c JOIN harvest.runs p ON p.run_id = c.parent_run_id
    WHERE c.run_id = ANY(%(ids)s::uuid[]) AND p.status = 'RUNNING'
    RETURNING run_id
),
"""
    + _wake_cte("woken", "told")
    + """
SELECT pg_notify(%(channel)s, queue) FROM woken
"""
)


async def apply_parent_close_policies(
    conn: AsyncConnection[Any], parent_run_ids: Sequence[str] | None = None, limit: int = 100
) -> int:
    """Terminate or cancel still-running children of closed parents, per their policy.

    With ``parent_run_ids`` only their children; without, any child whose parent closed
    and whose policy was not applied yet (the maintenance sweep). Returns how many.
    """
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT c.run_id::text AS run_id, c.parent_close_policy AS policy"
        " FROM harvest.runs c JOIN harvest.runs p ON p.run_id = c.parent_run_id"
        " WHERE c.status = 'RUNNING' AND NOT c.parent_policy_applied"
        "   AND p.status <> 'RUNNING'"
        "   AND (%s::uuid[] IS NULL OR c.parent_run_id = ANY(%s::uuid[]))"
        " LIMIT %s",
        (parent_run_ids, parent_run_ids, limit),
    )
    children = await cur.fetchall()
    for child in children:
        async with conn.transaction():
            await conn.execute(
                "UPDATE harvest.runs SET parent_policy_applied = true WHERE run_id = %s",
                (child["run_id"],),
            )
            if child["policy"] == "terminate":
                await close_runs(
                    conn,
                    [child["run_id"]],
                    status="TERMINATED",
                    event_type="WorkflowTerminated",
                    payload_json=json.dumps({"reason": "parent closed"}),
                    error_json=json.dumps({"type": "Terminated", "message": "parent closed"}),
                )
            elif child["policy"] == "request_cancel":
                await queue_event(
                    conn,
                    child["run_id"],
                    "CancelRequested",
                    json.dumps({"reason": "parent closed"}),
                    dedupe_key="cancel",
                )
    return len(children)


_RESET_INSERT_SQL = """
WITH source AS (
    SELECT * FROM harvest.runs WHERE run_id = %(source)s
),
run AS (
    INSERT INTO harvest.runs (run_id, namespace, workflow_id, workflow_type, queue, status,
        input, last_seq, idempotency_key, fingerprint, search_attributes, memo,
        parent_run_id, parent_seq, parent_close_policy, reset_from,
        priority, fairness_key, fair_round)
    SELECT %(new)s, namespace, workflow_id, workflow_type, queue, 'RUNNING', input,
        %(boundary)s + 1, NULL, fingerprint, search_attributes, memo,
        parent_run_id, parent_seq, parent_close_policy, run_id,
        priority, fairness_key, fair_round
    FROM source
    RETURNING run_id, namespace, workflow_type, queue, priority, fair_round
),
prefix AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT %(new)s, h.seq, h.event_type, h.at, h.payload FROM harvest.history h
    WHERE h.run_id = %(source)s AND h.seq <= %(boundary)s
    UNION ALL
    SELECT %(new)s, %(boundary)s + 1, 'WorkflowResetFork', harvest.now(), %(fork)s::jsonb
    RETURNING 1
),
replayed AS (
    INSERT INTO harvest.inbox (run_id, event_type, at, payload)
    SELECT %(new)s, 'SignalReceived', h.at, h.payload FROM harvest.history h
    WHERE h.run_id = %(source)s AND h.seq = ANY(%(signal_seqs)s::int[])
    ORDER BY h.seq
    RETURNING 1
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, priority,
                               fair_round)
    SELECT namespace, 'workflow', run_id, workflow_type, queue, 'PENDING', priority, fair_round
    FROM run
    RETURNING queue
)
SELECT pg_notify(%(channel)s, queue), (SELECT count(*) FROM prefix),
       (SELECT count(*) FROM replayed)
FROM task
"""


async def reset_run(
    conn: AsyncConnection[Any],
    *,
    source_run_id: str,
    new_run_id: str,
    boundary: int,
    fork_json: str,
    reason: str | None,
    signal_seqs: Sequence[int],
) -> None:
    """End the source (if running) and create the new run: the source's history up to
    ``boundary``, a ``WorkflowResetFork`` marker, and re-delivered signals in its inbox."""
    async with conn.transaction():
        await close_runs(
            conn,
            [source_run_id],
            status="TERMINATED",
            event_type="WorkflowReset",
            payload_json=json.dumps(
                {"new_run_id": new_run_id, "boundary": boundary, "reason": reason}
            ),
            error_json=json.dumps({"type": "Reset", "message": f"reset to event {boundary}"}),
        )
        await conn.execute(
            _RESET_INSERT_SQL,
            {
                "source": source_run_id,
                "new": new_run_id,
                "boundary": boundary,
                "fork": fork_json,
                "signal_seqs": list(signal_seqs),
                "channel": TASKS_CHANNEL,
            },
        )


async def set_paused(
    conn: AsyncConnection[Any], run_id: str, *, paused: bool, reason: str | None
) -> str:
    """Pause or resume a running run. Returns ``"done"``, ``"unchanged"`` or ``"not_running"``.

    A paused run's workflow tasks are not claimed; activities already running finish.
    """
    event_type = "WorkflowPaused" if paused else "WorkflowResumed"
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT paused FROM harvest.runs WHERE run_id = %s AND status = 'RUNNING'"
            " FOR NO KEY UPDATE",
            (run_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return "not_running"
        if row[0] == paused:
            return "unchanged"
        cur = await conn.execute(
            "UPDATE harvest.runs SET paused = %s, last_seq = last_seq + 1 WHERE run_id = %s"
            " RETURNING last_seq",
            (paused, run_id),
        )
        seq_row = await cur.fetchone()
        assert seq_row is not None
        await conn.execute(
            "INSERT INTO harvest.history (run_id, seq, event_type, at, payload)"
            " VALUES (%s, %s, %s, harvest.now(), jsonb_build_object('reason', %s::text))",
            (run_id, seq_row[0], event_type, reason),
        )
        if not paused:
            await conn.execute("SELECT pg_notify(%s, '*')", (TASKS_CHANNEL,))
    return "done"


# ---------------------------------------------------------------------------------------
# updates
# ---------------------------------------------------------------------------------------
async def request_update(
    conn: AsyncConnection[Any], run_id: str, update_id: str, name: str, args_json: str
) -> str:
    """Record an update request and queue it for the run: ``"requested"``, ``"exists"``
    (this update id was used before: its outcome stands) or ``"not_running"``."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO harvest.updates (run_id, update_id, name, args)"
            " VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING",
            (run_id, update_id, name, args_json),
        )
        if cur.rowcount == 0:
            return "exists"
        payload = json.dumps({"update_id": update_id, "name": name, "args": json.loads(args_json)})
        queued = await queue_event(
            conn, run_id, "UpdateRequested", payload, dedupe_key=f"update:{update_id}"
        )
        if queued == "not_running":
            ended = {"type": "Rejected", "message": "the run has ended"}
            await record_update_outcomes(conn, run_id, [(update_id, "REJECTED", None, ended)])
            return "not_running"
    return "requested"


async def record_update_outcomes(
    conn: AsyncConnection[Any],
    run_id: str,
    outcomes: Sequence[tuple[str, str, Any, Any]],
    *,
    run_ended: bool = False,
) -> None:
    """Store (update_id, status, result, error) outcomes; with ``run_ended``, updates still
    waiting fail. Callers waiting on an update are notified."""
    for update_id, status, result, error in outcomes:
        await conn.execute(
            "UPDATE harvest.updates SET status = %s, result = %s::jsonb, error = %s::jsonb,"
            " updated_at = harvest.now()"
            " WHERE run_id = %s AND update_id = %s"
            "   AND status NOT IN ('REJECTED', 'COMPLETED', 'FAILED')",
            (
                status,
                json.dumps(result),
                None if error is None else json.dumps(error),
                run_id,
                update_id,
            ),
        )
    if run_ended:
        await conn.execute(
            "UPDATE harvest.updates SET status = 'FAILED', updated_at = harvest.now(),"
            ' error = \'{"type": "RunEnded", "message": "the run ended first"}\''
            " WHERE run_id = %s AND status IN ('REQUESTED', 'ADMITTED')",
            (run_id,),
        )
    await conn.execute("SELECT pg_notify(%s, %s)", (QUERIES_CHANNEL, f"u:{run_id}"))


async def get_update(conn: AsyncConnection[Any], run_id: str, update_id: str) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT update_id, name, args, status, result, error FROM harvest.updates"
        " WHERE run_id = %s AND update_id = %s",
        (run_id, update_id),
    )
    return await cur.fetchone()
