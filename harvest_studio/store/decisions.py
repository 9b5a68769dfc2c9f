"""Workflow tasks: loading history tails and inbox rows (``harvest.history``,
``harvest.inbox``) and committing decisions across runs, tasks, timers and history."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import QUERIES_CHANNEL, RUNS_CHANNEL, TASKS_CHANNEL, Row, _wake_cte
from .inbox import queue_event
from .runs import insert_run


# ---------------------------------------------------------------------------------------
# loading what a workflow task needs
# ---------------------------------------------------------------------------------------
async def load_history_tails(
    conn: AsyncConnection[Any], tails: Sequence[tuple[str, int, int]]
) -> dict[str, list[Row]]:
    """For each (run_id, after_seq, up_to_seq) return the events in that range, in order."""
    if not tails:
        return {}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_HISTORY_TAILS_SQL, _tail_params(tails))
    out: dict[str, list[Row]] = {t[0]: [] for t in tails}
    for row in await cur.fetchall():
        out[row["run_id"]].append(row)
    return out


async def load_for_decisions(
    conn: AsyncConnection[Any], tails: Sequence[tuple[str, int, int]]
) -> tuple[dict[str, list[Row]], dict[str, list[Row]]]:
    """History tails and inbox rows of several runs, in one round trip."""
    history: dict[str, list[Row]] = {t[0]: [] for t in tails}
    inbox: dict[str, list[Row]] = {t[0]: [] for t in tails}
    if not tails:
        return history, inbox
    async with conn.pipeline():
        history_cur = conn.cursor(row_factory=dict_row)
        inbox_cur = conn.cursor(row_factory=dict_row)
        await history_cur.execute(_HISTORY_TAILS_SQL, _tail_params(tails))
        await inbox_cur.execute(_INBOX_SQL, ([t[0] for t in tails],))
        for row in await history_cur.fetchall():
            history[row["run_id"]].append(row)
        for row in await inbox_cur.fetchall():
            inbox[row["run_id"]].append(row)
    return history, inbox


_HISTORY_TAILS_SQL = """
SELECT h.run_id::text AS run_id, h.seq, h.event_type, h.at, h.payload
FROM unnest(%s::uuid[], %s::int[], %s::int[]) AS u(run_id, after_seq, up_to)
JOIN harvest.history h ON h.run_id = u.run_id AND h.seq > u.after_seq AND h.seq <= u.up_to
ORDER BY h.run_id, h.seq
"""

_INBOX_SQL = """
SELECT id, run_id::text AS run_id, event_type, at, payload FROM harvest.inbox
WHERE run_id = ANY(%s::uuid[]) ORDER BY run_id, id
"""


def _tail_params(tails: Sequence[tuple[str, int, int]]) -> tuple[list[Any], ...]:
    return ([t[0] for t in tails], [t[1] for t in tails], [t[2] for t in tails])


async def load_inbox(conn: AsyncConnection[Any], run_ids: Sequence[str]) -> dict[str, list[Row]]:
    if not run_ids:
        return {}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_INBOX_SQL, (list(run_ids),))
    out: dict[str, list[Row]] = {r: [] for r in run_ids}
    for row in await cur.fetchall():
        out[row["run_id"]].append(row)
    return out


# ---------------------------------------------------------------------------------------
# committing workflow decisions
# ---------------------------------------------------------------------------------------
@dataclass
class NewActivity:
    seq: int
    activity_type: str
    queue: str
    args_json: str
    options: dict[str, Any]
    eager: bool = False
    run_id: str = ""

    def activity_seq_key(self) -> tuple[str, int]:
        return (self.run_id, self.seq)


@dataclass
class Continuation:
    """The run a continue-as-new decision hands over to."""

    run_id: str
    workflow_id: str
    workflow_type: str
    queue: str
    input_json: str
    started_json: str
    fingerprint: str | None
    execution_timeout: float | None


@dataclass
class ChildStart:
    """A child run a decision starts (inserted in the decision's transaction)."""

    run_id: str
    workflow_id: str
    workflow_type: str
    queue: str
    input_json: str
    started_json: str
    parent_close_policy: str
    parent_seq: int


@dataclass
class Decision:
    """Everything one workflow task writes, committed atomically (or not at all)."""

    task_id: int
    attempt: int
    run_id: str
    namespace: str
    expected_seq: int
    events: list[tuple[int, str, datetime, str]] = field(default_factory=list)
    inbox_ids: list[int] = field(default_factory=list)
    activities: list[NewActivity] = field(default_factory=list)
    timers: list[tuple[int, datetime]] = field(default_factory=list)
    cancelled_timers: list[int] = field(default_factory=list)
    cancelled_activities: list[int] = field(default_factory=list)
    """activities (by scheduled seq) the code cancelled: their tasks are removed"""
    cancelled_children: list[tuple[str, str | None]] = field(default_factory=list)
    """child runs (run id, reason) the code asked to cancel"""
    close_status: str | None = None
    result_json: str | None = None
    error_json: str | None = None
    search_attributes_json: str | None = None
    waiting_json: str | None = None
    """what the code waits on after this decision (``runs.waiting``; None: nothing)"""
    continuation: Continuation | None = None
    children: list[ChildStart] = field(default_factory=list)
    workflow_id: str = ""
    workflow_type: str = ""
    """the run's ids, for the claim rows of the activities it hands to its own worker"""
    update_outcomes: bool = False
    """the decision completes or fails updates: the caller records them, and then (if the
    run closed) fails the updates still waiting; otherwise the commit does that itself"""

    @property
    def new_seq(self) -> int:
        return self.expected_seq + len(self.events)


@dataclass
class DecisionOutcome:
    committed: set[int]
    lost: set[int]
    eager_activities: list[Row]
    closed_runs: list[str]

    def merge(self, other: DecisionOutcome) -> None:
        """Add the outcome of another commit to this one."""
        self.committed |= other.committed
        self.lost |= other.lost
        self.eager_activities += other.eager_activities
        self.closed_runs += other.closed_runs


_COMMIT_DECISIONS_SQL = (
    """
WITH input AS (
    SELECT * FROM unnest(%(task_ids)s::bigint[], %(attempts)s::int[], %(run_ids)s::uuid[],
                         %(expected)s::int[], %(new_seq)s::int[], %(status)b::text[],
                         %(result)b::text[], %(error)b::text[], %(sattrs)b::text[],
                         %(waiting)b::text[])
        AS i(task_id, attempt, run_id, expected, new_seq, status, result, error, sattrs,
             waiting)
),
locked AS (
    -- the one lock order: a run's row before its tasks, runs in run_id order (signals,
    -- updates and cancels lock the run and then wake its task)
    SELECT t.task_id, t.dirty FROM harvest.runs r
    JOIN input i ON i.run_id = r.run_id
    JOIN harvest.tasks t ON t.task_id = i.task_id
    WHERE t.worker_id = %(worker)s AND t.attempt = i.attempt AND t.state = 'RUNNING'
    ORDER BY r.run_id
    FOR NO KEY UPDATE OF r FOR UPDATE OF t
),
advanced AS (
    UPDATE harvest.runs r SET
        last_seq = i.new_seq,
        status = COALESCE(i.status, r.status),
        result = COALESCE(i.result::jsonb, r.result),
        error = COALESCE(i.error::jsonb, r.error),
        closed_at = CASE WHEN i.status IS NULL THEN NULL ELSE harvest.now() END,
        blocked = NULL,
        blocked_count = 0,
        search_attributes = CASE WHEN i.sattrs IS NULL THEN r.search_attributes
            ELSE jsonb_strip_nulls(r.search_attributes || i.sattrs::jsonb) END,
        waiting = CASE WHEN i.status IS NULL THEN i.waiting::jsonb END
    FROM input i JOIN locked l USING (task_id)
    WHERE r.run_id = i.run_id AND r.last_seq = i.expected AND r.status = 'RUNNING'
      -- an event that arrived during a final decision keeps the run open: decide again
      AND (i.status IS NULL OR NOT l.dirty)
    RETURNING r.run_id, r.created_at, r.priority, r.fair_round, i.task_id, l.dirty,
              i.status IS NOT NULL AS closed
),
appended AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT e.run_id, e.seq, e.event_type, e.at, e.payload::jsonb
    FROM unnest(%(ev_runs)s::uuid[], %(ev_seqs)s::int[], %(ev_types)b::text[],
                %(ev_ats)s::timestamptz[], %(ev_payloads)b::text[])
        AS e(run_id, seq, event_type, at, payload)
    JOIN advanced a ON a.run_id = e.run_id
    RETURNING 1
),
consumed AS (
    DELETE FROM harvest.inbox b
    USING unnest(%(inbox_runs)s::uuid[], %(inbox_ids)s::bigint[]) AS x(run_id, id), advanced a
    WHERE b.id = x.id AND a.run_id = x.run_id
    RETURNING 1
),
scheduled AS (
    INSERT INTO harvest.tasks AS t (namespace, kind, run_id, type_name, queue, state,
        worker_id, attempt, lease_expires_at, started_at, attempt_deadline, heartbeat_deadline,
        activity_seq, input, retry_policy, start_to_close, schedule_to_start,
        heartbeat_timeout, max_concurrent, start_deadline, close_deadline, visible_at,
        priority, fair_round)
    SELECT n.namespace, 'activity', n.run_id, n.type_name, n.queue,
        CASE WHEN n.eager THEN 'RUNNING' ELSE 'PENDING' END,
        CASE WHEN n.eager THEN %(worker)s END,
        CASE WHEN n.eager THEN 1 ELSE 0 END,
        CASE WHEN n.eager THEN harvest.now() + make_interval(secs => %(lease)s) END,
        CASE WHEN n.eager THEN harvest.now() END,
        CASE WHEN n.eager THEN harvest.now() + make_interval(secs => n.s2c) END,
        CASE WHEN n.eager THEN harvest.now() + make_interval(secs => n.hb) END,
        n.seq, n.args::jsonb, n.retry::jsonb, n.s2c, n.s2s, n.hb, n.cap,
        CASE WHEN NOT n.eager THEN harvest.now() + make_interval(secs => n.s2s) END,
        harvest.now() + make_interval(secs => n.sch2c),
        a.created_at,  -- runs in progress go ahead of runs not begun (see _wake_cte)
        COALESCE(n.priority, a.priority), a.fair_round
    FROM (
        SELECT u.*, u.want_eager AND NOT EXISTS (
            -- throttled work is claimed under its limits, never handed over eagerly
            SELECT 1 FROM harvest.flow_limits f WHERE f.namespace = u.namespace
              AND ((f.scope = 'queue' AND f.name = u.queue)
                   OR (f.scope = 'activity' AND f.name = u.type_name))) AS eager
        FROM unnest(%(act_ns)b::text[], %(act_runs)s::uuid[], %(act_types)b::text[],
            %(act_queues)b::text[], %(act_seqs)s::int[], %(act_args)b::text[],
            %(act_retry)b::text[], %(act_s2c)s::float8[], %(act_s2s)s::float8[],
            %(act_sch2c)s::float8[], %(act_hb)s::float8[], %(act_caps)s::int[],
            %(act_eager)s::bool[], %(act_priority)s::int[])
            AS u(namespace, run_id, type_name, queue, seq, args, retry, s2c, s2s, sch2c, hb,
                 cap, want_eager, priority)
    ) n
    JOIN advanced a ON a.run_id = n.run_id AND NOT a.closed
    RETURNING t.task_id, t.run_id, t.activity_seq, t.queue, t.state = 'RUNNING' AS eager
),
armed AS (
    INSERT INTO harvest.timers (run_id, seq, namespace, fires_at)
    SELECT m.run_id, m.seq, m.namespace, m.fires_at
    FROM unnest(%(timer_runs)s::uuid[], %(timer_seqs)s::int[], %(timer_ns)b::text[],
                %(timer_ats)s::timestamptz[]) AS m(run_id, seq, namespace, fires_at)
    JOIN advanced a ON a.run_id = m.run_id AND NOT a.closed
    RETURNING 1
),
child_ends AS (
    -- children closing in this statement; their parents hear of it below
    SELECT c.parent_run_id AS parent, c.parent_seq, c.run_id, i.status, i.result, i.error
    FROM advanced a JOIN input i USING (task_id) JOIN harvest.runs c ON c.run_id = a.run_id
    WHERE a.closed AND i.status <> 'CONTINUED_AS_NEW' AND c.parent_run_id IS NOT NULL
),
finished AS (
    DELETE FROM harvest.tasks t USING advanced a
    WHERE t.run_id = a.run_id AND t.kind <> 'query'
      AND (a.closed OR (t.task_id = a.task_id AND NOT a.dirty
                        AND a.run_id NOT IN (SELECT parent FROM child_ends)))
    RETURNING 1
),
requeued AS (
    -- new inbox events arrived while deciding (dirty, or a child of the run closing in
    -- this same statement), or the run moved under a fenced task (a stale cache): hand
    -- the task back for another decision. A task is modified once per statement, so a
    -- parent in this batch is requeued here rather than woken below.
    UPDATE harvest.tasks t SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,
        visible_at = least(harvest.now(), (SELECT r.created_at FROM harvest.runs r
                                   WHERE r.run_id = t.run_id))
    FROM locked l LEFT JOIN advanced a USING (task_id)
    WHERE t.task_id = l.task_id
      AND (a.task_id IS NULL
           OR ((a.dirty OR a.run_id IN (SELECT parent FROM child_ends)) AND NOT a.closed))
    RETURNING 1
),
disarmed AS (
    DELETE FROM harvest.timers m USING advanced a WHERE a.closed AND m.run_id = a.run_id
    RETURNING 1
),
abandoned AS (
    -- updates still waiting on a run that closes here fail: the run ended first
    UPDATE harvest.updates u SET status = 'FAILED', updated_at = harvest.now(),
        error = '{"type": "RunEnded", "message": "the run ended first"}'
    FROM advanced a
    WHERE a.closed AND u.run_id = a.run_id AND u.status IN ('REQUESTED', 'ADMITTED')
      AND a.run_id <> ALL(%(update_runs)s::uuid[])
    RETURNING u.run_id
),
stopped AS (
    DELETE FROM harvest.timers m
    USING unnest(%(stop_runs)s::uuid[], %(stop_seqs)s::int[]) AS x(run_id, seq), advanced a
    WHERE m.run_id = x.run_id AND m.seq = x.seq AND a.run_id = x.run_id AND NOT a.closed
    RETURNING 1
),
to_parents AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload)
    SELECT e.parent,
        CASE WHEN e.status = 'COMPLETED' THEN 'ChildWorkflowCompleted'
             ELSE 'ChildWorkflowFailed' END,
        jsonb_build_object('started_seq', e.parent_seq, 'run_id', e.run_id, 'status', e.status,
                           'result', e.result::jsonb, 'error', e.error::jsonb)
    FROM child_ends e
    JOIN harvest.runs p ON p.run_id = e.parent AND p.status = 'RUNNING'
    WHERE e.parent NOT IN (SELECT run_id FROM advanced WHERE closed)
    RETURNING run_id
),
"""
    + _wake_cte(
        "parents_woken",
        "to_parents",
        # parents with a task in this batch are requeued above: a row changes once per statement
        "AND r.run_id NOT IN (SELECT i.run_id FROM input i JOIN locked l USING (task_id))",
    )
    + """,
notified AS (
    SELECT pg_notify(%(tasks_channel)s, queue) FROM parents_woken
    UNION ALL
    SELECT pg_notify(%(runs_channel)s, a.run_id::text) FROM advanced a WHERE a.closed
    UNION ALL
    SELECT pg_notify(%(tasks_channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM scheduled WHERE NOT eager) q
    UNION ALL
    SELECT pg_notify(%(tasks_channel)s, '*') WHERE EXISTS (SELECT 1 FROM requeued)
    UNION ALL
    SELECT pg_notify(%(queries_channel)s, 'u:' || r.run_id::text)
    FROM (SELECT DISTINCT run_id FROM abandoned) r
)
SELECT 'advanced' AS what, a.task_id, a.run_id::text AS run_id, NULL::int AS seq,
       harvest.now() AS at
FROM advanced a
UNION ALL
SELECT 'eager', s.task_id, s.run_id::text, s.activity_seq, harvest.now()
FROM scheduled s WHERE s.eager
UNION ALL
SELECT 'notified', count(*), NULL, NULL, harvest.now() FROM notified
"""
)


async def commit_decisions(
    conn: AsyncConnection[Any],
    decisions: Sequence[Decision],
    *,
    worker_id: str,
    lease_seconds: float,
) -> DecisionOutcome:
    """Write a batch of workflow-task results in one statement (one transaction).

    Each decision is fenced by its task's (worker_id, attempt) and by a compare-and-set on
    the run's ``last_seq``; decisions that fail either check write nothing. Activities
    marked ``eager`` are inserted already claimed by this worker and returned.
    """
    outcome = DecisionOutcome(set(), set(), [], [])
    if not decisions:
        return outcome
    events = [(d.run_id, *e) for d in decisions for e in d.events]
    activities = [(d, a) for d in decisions for a in d.activities]
    timers = [(d, t) for d in decisions for t in d.timers]
    inbox = [(d.run_id, i) for d in decisions for i in d.inbox_ids]
    params: dict[str, Any] = {
        "worker": worker_id,
        "lease": lease_seconds,
        "runs_channel": RUNS_CHANNEL,
        "tasks_channel": TASKS_CHANNEL,
        "queries_channel": QUERIES_CHANNEL,
        "update_runs": [d.run_id for d in decisions if d.update_outcomes],
        "task_ids": [d.task_id for d in decisions],
        "attempts": [d.attempt for d in decisions],
        "run_ids": [d.run_id for d in decisions],
        "expected": [d.expected_seq for d in decisions],
        "new_seq": [d.new_seq for d in decisions],
        "status": [d.close_status for d in decisions],
        "result": [d.result_json for d in decisions],
        "error": [d.error_json for d in decisions],
        "sattrs": [d.search_attributes_json for d in decisions],
        "waiting": [d.waiting_json for d in decisions],
        "ev_runs": [e[0] for e in events],
        "ev_seqs": [e[1] for e in events],
        "ev_types": [e[2] for e in events],
        "ev_ats": [e[3] for e in events],
        "ev_payloads": [e[4] for e in events],
        "inbox_runs": [i[0] for i in inbox],
        "inbox_ids": [i[1] for i in inbox],
        "timer_runs": [d.run_id for d, _ in timers],
        "timer_seqs": [t[0] for _, t in timers],
        "timer_ns": [d.namespace for d, _ in timers],
        "timer_ats": [t[1] for _, t in timers],
        "stop_runs": [d.run_id for d in decisions for _ in d.cancelled_timers],
        "stop_seqs": [s for d in decisions for s in d.cancelled_timers],
        **_activity_params(activities),
    }
    continuing = [d for d in decisions if d.continuation is not None]
    parents = [d for d in decisions if d.children]
    cancelling = [d for d in decisions if d.cancelled_activities or d.cancelled_children]
    # Continue-as-new, child starts and cancels write more: the batch needs a transaction.
    needs_transaction = continuing or parents or cancelling
    async with conn.transaction() if needs_transaction else contextlib.nullcontext():
        cur = conn.cursor()
        await cur.execute(_COMMIT_DECISIONS_SQL, params)
        rows = await cur.fetchall()
        advanced = {int(r[1]) for r in rows if r[0] == "advanced"}
        for decision in continuing:
            nxt = decision.continuation
            if decision.task_id not in advanced or nxt is None:
                continue
            await insert_run(
                conn,
                run_id=nxt.run_id,
                namespace=decision.namespace,
                workflow_id=nxt.workflow_id,
                workflow_type=nxt.workflow_type,
                queue=nxt.queue,
                input_json=nxt.input_json,
                started_json=nxt.started_json,
                fingerprint=nxt.fingerprint,
                execution_timeout=nxt.execution_timeout,
                idempotency_key=None,
                continued_from=decision.run_id,
            )
        for decision in parents:
            if decision.task_id in advanced:
                await _start_children(conn, decision)
        for decision in cancelling:
            if decision.task_id in advanced:
                await _cancel_commanded(conn, decision)
    by_key = {(a.activity_seq_key()): (d, a) for d, a in activities}
    for what, task_id, run_id, seq, at in rows:
        if what == "advanced":
            outcome.committed.add(int(task_id))
        elif what == "eager":
            decision, act = by_key[(run_id, seq)]
            outcome.eager_activities.append(_eager_row(decision, act, int(task_id), at))
    for decision in decisions:
        if decision.task_id not in outcome.committed:
            outcome.lost.add(decision.task_id)
        elif decision.close_status is not None:
            outcome.closed_runs.append(decision.run_id)
    return outcome


async def _start_children(conn: AsyncConnection[Any], decision: Decision) -> None:
    for child in decision.children:
        try:
            async with conn.transaction():  # a savepoint: a taken id fails only this child
                await insert_run(
                    conn,
                    run_id=child.run_id,
                    namespace=decision.namespace,
                    workflow_id=child.workflow_id,
                    workflow_type=child.workflow_type,
                    queue=child.queue,
                    input_json=child.input_json,
                    started_json=child.started_json,
                    fingerprint=None,
                    execution_timeout=None,
                    idempotency_key=None,
                    parent=(decision.run_id, child.parent_seq, child.parent_close_policy),
                )
        except psycopg.errors.UniqueViolation:
            failure = {
                "started_seq": child.parent_seq,
                "run_id": child.run_id,
                "status": "START_FAILED",
                "error": {
                    "type": "WorkflowAlreadyStartedError",
                    "message": f"a run with id {child.workflow_id!r} is already running",
                },
            }
            await queue_event(conn, decision.run_id, "ChildWorkflowFailed", json.dumps(failure))


async def _cancel_commanded(conn: AsyncConnection[Any], decision: Decision) -> None:
    """Carry out the cancels a decision recorded: remove the cancelled activities' tasks
    (pending or running: a running attempt's next heartbeat finds its claim gone and is
    cancelled; its result would be fenced out) and ask the cancelled children to cancel."""
    if decision.cancelled_activities and decision.close_status is None:  # (closing: all go)
        await conn.execute(
            "DELETE FROM harvest.tasks WHERE run_id = %s AND kind = 'activity'"
            " AND activity_seq = ANY(%s::int[])",
            (decision.run_id, decision.cancelled_activities),
        )
    for child_run_id, reason in decision.cancelled_children:
        await queue_event(
            conn, child_run_id, "CancelRequested", json.dumps({"reason": reason}),
            dedupe_key="cancel",
        )


def _eager_row(decision: Decision, act: NewActivity, task_id: int, now: datetime) -> Row:
    """The claim row of an activity task inserted already claimed by this worker."""
    s2c = act.options.get("start_to_close")
    return {
        "task_id": task_id,
        "kind": "activity",
        "run_id": decision.run_id,
        "type_name": act.activity_type,
        "namespace": decision.namespace,
        "queue": act.queue,
        "attempt": 1,
        "activity_seq": act.seq,
        "retry_attempt": 1,
        "input": json.loads(act.args_json),
        "retry_policy": act.options.get("retry") or {},
        "heartbeat_details": None,
        "heartbeat_timeout": act.options.get("heartbeat_timeout"),
        "start_to_close": s2c,
        "started_at": now,
        "attempt_deadline": None if s2c is None else now + timedelta(seconds=float(s2c)),
        "workflow_id": decision.workflow_id,
        "workflow_type": decision.workflow_type,
    }


def _activity_params(activities: Sequence[tuple[Decision, NewActivity]]) -> dict[str, Any]:
    def opt(a: NewActivity, key: str) -> Any:
        return a.options.get(key)

    return {
        "act_ns": [d.namespace for d, _ in activities],
        "act_runs": [d.run_id for d, _ in activities],
        "act_types": [a.activity_type for _, a in activities],
        "act_queues": [a.queue for _, a in activities],
        "act_seqs": [a.seq for _, a in activities],
        "act_args": [a.args_json for _, a in activities],
        "act_retry": [json.dumps(opt(a, "retry") or {}) for _, a in activities],
        "act_s2c": [opt(a, "start_to_close") for _, a in activities],
        "act_s2s": [opt(a, "schedule_to_start") for _, a in activities],
        "act_sch2c": [opt(a, "schedule_to_close") for _, a in activities],
        "act_hb": [opt(a, "heartbeat_timeout") for _, a in activities],
        "act_caps": [opt(a, "max_concurrent") for _, a in activities],
        "act_eager": [a.eager for _, a in activities],
        "act_priority": [opt(a, "priority") for _, a in activities],
    }


async def block_run(
    conn: AsyncConnection[Any],
    *,
    task_id: int,
    attempt: int,
    worker_id: str,
    run_id: str,
    reason_json: str,
    backoff_base: float,
    backoff_max: float,
) -> bool:
    """Mark a run blocked (non-determinism) and hand its task back with backoff."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE harvest.tasks SET state = 'PENDING', worker_id = NULL,"
            " lease_expires_at = NULL,"
            " visible_at = harvest.now() + make_interval(secs => LEAST(%s, %s * power(2, LEAST(20,"
            "   (SELECT blocked_count FROM harvest.runs WHERE run_id = %s)))))"
            " WHERE task_id = %s AND worker_id = %s AND attempt = %s AND state = 'RUNNING'",
            (backoff_max, backoff_base, run_id, task_id, worker_id, attempt),
        )
        if cur.rowcount != 1:
            return False
        await conn.execute(
            "UPDATE harvest.runs SET blocked = %s::jsonb, blocked_count = blocked_count + 1"
            " WHERE run_id = %s",
            (reason_json, run_id),
        )
    return True
