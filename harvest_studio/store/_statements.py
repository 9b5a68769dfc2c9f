"""All SQL lives here. Every statement is parameterised; callers pass plain values.

Transactions are owned by the caller unless a function says otherwise; functions that
need several statements to be atomic open their own ``conn.transaction()`` (which nests as
a savepoint if one is already open).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from ..model import filters
from ..model.errors import SchemaError

Row = dict[str, Any]
MIGRATION_LOCK = 0x68617276  # "harv": session advisory lock key for migrations
TASKS_CHANNEL = "harvest_tasks"
RUNS_CHANNEL = "harvest_runs"
QUERIES_CHANNEL = "harvest_queries"
OPEN_STATUSES = ("RUNNING",)


def _wake_cte(name: str, source: str, where: str = "") -> str:
    """A CTE giving each running run in ``source`` (a CTE with ``run_id``) a pending
    workflow task, or marking its existing one ``dirty`` (it decides again when done).
    Returns the woken tasks' queues."""
    return f"""
{name} AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state)
    SELECT r.namespace, 'workflow', r.run_id, r.workflow_type, r.queue, 'PENDING'
    FROM (SELECT DISTINCT run_id FROM {source}) s
    JOIN harvest.runs r ON r.run_id = s.run_id
    WHERE r.status = 'RUNNING' {where}
    ON CONFLICT (run_id) WHERE kind = 'workflow' DO UPDATE SET dirty = true
    RETURNING queue
)"""


# ---------------------------------------------------------------------------------------
# migrations
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("harvest_studio.store.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


async def applied_migrations(conn: AsyncConnection[Any]) -> dict[int, datetime]:
    cur = await conn.execute("SELECT to_regclass('harvest.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return {}
    cur = await conn.execute("SELECT version, applied_at FROM harvest.schema_migrations")
    return {int(v): at for v, at in await cur.fetchall()}


async def migrate(conn: AsyncConnection[Any]) -> list[Migration]:
    """Apply pending migrations under a session advisory lock; returns what was applied.

    ``conn`` must be in autocommit mode. Concurrent callers wait for the lock, then find
    nothing left to do.
    """
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        done = await applied_migrations(conn)
        known = available_migrations()
        newest = max((m.version for m in known), default=0)
        if done and max(done) > newest:
            raise SchemaError(
                f"database schema is at version {max(done)}, newer than this "
                f"harvest_studio ({newest}); upgrade the package"
            )
        for migration in known:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute("CREATE SCHEMA IF NOT EXISTS harvest")
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS harvest.schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await conn.execute(migration.sql.encode())  # type: ignore[arg-type]
                await conn.execute(
                    "INSERT INTO harvest.schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied_now.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now


# ---------------------------------------------------------------------------------------
# registry and workers
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    fingerprint: str
    queue: str
    execution_timeout: float | None = None


async def register_types(
    conn: AsyncConnection[Any], namespace: str, entries: Iterable[Registration]
) -> None:
    """Record the workflow and activity types (and code fingerprints) a worker serves."""
    rows = list(entries)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO harvest.registry (namespace, kind, name, fingerprint, queue,"
        " execution_timeout)"
        " SELECT %s, k, n, f, q, t FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::float8[]) AS u(k, n, f, q, t)"
        " ON CONFLICT (namespace, kind, name, fingerprint) DO UPDATE SET last_seen = now(),"
        " queue = EXCLUDED.queue, execution_timeout = EXCLUDED.execution_timeout",
        (
            namespace,
            [r.kind for r in rows],
            [r.name for r in rows],
            [r.fingerprint for r in rows],
            [r.queue for r in rows],
            [r.execution_timeout for r in rows],
        ),
    )


async def registered_workflow_names(conn: AsyncConnection[Any], namespace: str) -> list[str]:
    cur = await conn.execute(
        "SELECT DISTINCT name FROM harvest.registry WHERE namespace = %s AND kind = 'workflow'"
        " ORDER BY name",
        (namespace,),
    )
    return [row[0] for row in await cur.fetchall()]


async def registered_workflow(
    conn: AsyncConnection[Any], namespace: str, name: str
) -> Row | None:
    """The most recently registered version of a workflow type, if any worker served it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT fingerprint, queue, execution_timeout FROM harvest.registry"
        " WHERE namespace = %s AND kind = 'workflow' AND name = %s"
        " ORDER BY last_seen DESC LIMIT 1",
        (namespace, name),
    )
    return await cur.fetchone()


async def upsert_worker(
    conn: AsyncConnection[Any],
    worker_id: str,
    namespace: str,
    hostname: str,
    pid: int,
    queues: Sequence[str],
) -> None:
    await conn.execute(
        "INSERT INTO harvest.workers (worker_id, namespace, hostname, pid, queues)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), status = 'ACTIVE'",
        (worker_id, namespace, hostname, pid, list(queues)),
    )


async def set_worker_status(conn: AsyncConnection[Any], worker_id: str, status: str) -> None:
    await conn.execute(
        "UPDATE harvest.workers SET status = %s, heartbeat_at = now() WHERE worker_id = %s",
        (status, worker_id),
    )


async def renew_leases(conn: AsyncConnection[Any], worker_id: str, lease_seconds: float) -> int:
    """Extend every lease this worker holds (stamped with the database clock)."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE harvest.tasks SET lease_expires_at = now() + make_interval(secs => %s)"
            " WHERE worker_id = %s AND state = 'RUNNING'",
            (lease_seconds, worker_id),
        )
        await conn.execute(
            "UPDATE harvest.workers SET heartbeat_at = now() WHERE worker_id = %s", (worker_id,)
        )
    return cur.rowcount


# ---------------------------------------------------------------------------------------
# starting runs
# ---------------------------------------------------------------------------------------
async def find_run_by_idempotency_key(
    conn: AsyncConnection[Any], namespace: str, key: str
) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT run_id::text, workflow_id, status FROM harvest.runs"
        " WHERE namespace = %s AND idempotency_key = %s",
        (namespace, key),
    )
    return await cur.fetchone()


async def latest_run_for_id(
    conn: AsyncConnection[Any], namespace: str, workflow_id: str
) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT run_id::text, status FROM harvest.runs WHERE namespace = %s AND workflow_id = %s"
        " ORDER BY (status = 'RUNNING') DESC, created_at DESC LIMIT 1",
        (namespace, workflow_id),
    )
    return await cur.fetchone()


async def insert_run(
    conn: AsyncConnection[Any],
    *,
    run_id: str,
    namespace: str,
    workflow_id: str,
    workflow_type: str,
    queue: str,
    input_json: str,
    started_json: str,
    fingerprint: str | None,
    execution_timeout: float | None,
    idempotency_key: str | None,
    start_signals: Sequence[str] = (),
    continued_from: str | None = None,
    search_attributes_json: str | None = None,
    memo_json: str | None = None,
    start_delay: float | None = None,
    parent: tuple[str, int, str] | None = None,
) -> None:
    """Insert the run, its ``WorkflowStarted`` event (then any signals sent with the start)
    and its first workflow task: one statement, so in autocommit mode one round trip."""
    await conn.execute(
        _INSERT_RUN_SQL,
        {
            "run_id": run_id,
            "namespace": namespace,
            "workflow_id": workflow_id,
            "workflow_type": workflow_type,
            "queue": queue,
            "input": input_json,
            "started": started_json,
            "timeout": execution_timeout,
            "key": idempotency_key,
            "fingerprint": fingerprint,
            "channel": TASKS_CHANNEL,
            "signals": list(start_signals),
            "last_seq": 1 + len(start_signals),
            "continued_from": continued_from,
            "sattrs": search_attributes_json,
            "memo": memo_json,
            "delay": start_delay or 0.0,
            "parent": parent[0] if parent else None,
            "parent_seq": parent[1] if parent else None,
            "policy": parent[2] if parent else None,
        },
    )


_INSERT_RUN_SQL = """
WITH run AS (
    INSERT INTO harvest.runs (run_id, namespace, workflow_id, workflow_type, queue, status,
        input, last_seq, deadline, idempotency_key, fingerprint, continued_from,
        search_attributes, memo, parent_run_id, parent_seq, parent_close_policy)
    VALUES (%(run_id)s, %(namespace)s, %(workflow_id)s, %(workflow_type)s, %(queue)s,
        'RUNNING', %(input)s::jsonb, %(last_seq)s,
        now() + make_interval(secs => %(delay)s + %(timeout)s), %(key)s, %(fingerprint)s,
        %(continued_from)s,
        COALESCE(%(sattrs)s::jsonb, (SELECT p.search_attributes FROM harvest.runs p
                                     WHERE p.run_id = %(continued_from)s), '{}'::jsonb),
        COALESCE(%(memo)s::jsonb, (SELECT p.memo FROM harvest.runs p
                                   WHERE p.run_id = %(continued_from)s)),
        -- a continued child stays its parent's child
        COALESCE(%(parent)s::uuid, (SELECT p.parent_run_id FROM harvest.runs p
                                    WHERE p.run_id = %(continued_from)s)),
        COALESCE(%(parent_seq)s::int, (SELECT p.parent_seq FROM harvest.runs p
                                       WHERE p.run_id = %(continued_from)s)),
        COALESCE(%(policy)s::text, (SELECT p.parent_close_policy FROM harvest.runs p
                                    WHERE p.run_id = %(continued_from)s)))
    RETURNING run_id
),
started AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT run_id, 1, 'WorkflowStarted', now(), %(started)s::jsonb FROM run
    UNION ALL
    SELECT run_id, 1 + s.n, 'SignalReceived', now(), s.payload::jsonb
    FROM run, unnest(%(signals)s::text[]) WITH ORDINALITY AS s(payload, n)
    RETURNING 1
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, visible_at)
    SELECT %(namespace)s, 'workflow', run_id, %(workflow_type)s, %(queue)s, 'PENDING',
           now() + make_interval(secs => %(delay)s)
    FROM run
    RETURNING 1
)
SELECT pg_notify(%(channel)s, %(queue)s) FROM task
"""


# ---------------------------------------------------------------------------------------
# claiming
# ---------------------------------------------------------------------------------------
_CLAIM_COLUMNS = """
    t.task_id, t.kind, t.run_id::text AS run_id, t.type_name, t.namespace, t.queue,
    t.attempt, t.activity_seq, t.retry_attempt, t.input, t.retry_policy,
    t.heartbeat_details, t.heartbeat_timeout, t.start_to_close, t.started_at,
    t.attempt_deadline, c.last_seq, c.blocked, c.first_event, c.has_inbox
"""

_CLAIM_SET = """
    state = 'RUNNING', worker_id = %(worker)s, attempt = t.attempt + 1, dirty = false,
    lease_expires_at = now() + make_interval(secs => %(lease)s),
    started_at = now(),
    attempt_deadline = now() + make_interval(secs => t.start_to_close),
    heartbeat_deadline = now() + make_interval(secs => t.heartbeat_timeout)
"""

_CLAIM_SQL = f"""
UPDATE harvest.tasks t SET {_CLAIM_SET}
FROM (
    SELECT p.task_id, r.last_seq, r.blocked,
        -- a run nobody has decided yet: hand over its start event with the claim
        (SELECT jsonb_build_object('seq', h.seq, 'event_type', h.event_type, 'at', h.at,
                                   'payload', h.payload)
         FROM harvest.history h WHERE r.last_seq = 1 AND h.run_id = p.run_id AND h.seq = 1)
            AS first_event,
        EXISTS (SELECT 1 FROM harvest.inbox b WHERE b.run_id = p.run_id) AS has_inbox
    FROM harvest.tasks p
    LEFT JOIN harvest.runs r ON p.kind = 'workflow' AND r.run_id = p.run_id
    WHERE p.state = 'PENDING' AND p.namespace = %(namespace)s AND p.queue = %(queue)s
      AND p.visible_at <= now() AND r.paused IS NOT TRUE
      AND ((p.kind IN ('workflow', 'query') AND p.type_name = ANY(%(workflows)s))
           OR (p.kind = 'activity' AND p.max_concurrent IS NULL
               AND p.type_name = ANY(%(activities)s)))
    ORDER BY p.priority DESC, p.visible_at
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
) c
WHERE t.task_id = c.task_id
RETURNING {_CLAIM_COLUMNS}
"""

_CLAIM_CAPPED_SQL = f"""
UPDATE harvest.tasks t SET {_CLAIM_SET}
FROM (
    SELECT p.task_id, NULL::integer AS last_seq, NULL::jsonb AS blocked,
        NULL::jsonb AS first_event, true AS has_inbox
    FROM harvest.tasks p
    WHERE p.state = 'PENDING' AND p.namespace = %(namespace)s AND p.queue = %(queue)s
      AND p.visible_at <= now() AND p.kind = 'activity' AND p.type_name = %(type_name)s
    ORDER BY p.priority DESC, p.visible_at
    LIMIT GREATEST(0, LEAST(%(limit)s, %(cap)s - (
        SELECT count(*) FROM harvest.tasks r
        WHERE r.state = 'RUNNING' AND r.max_concurrent IS NOT NULL
          AND r.namespace = %(namespace)s AND r.type_name = %(type_name)s)))
    FOR UPDATE OF p SKIP LOCKED
) c
WHERE t.task_id = c.task_id
RETURNING {_CLAIM_COLUMNS}
"""


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
    """Claim up to ``limit`` pending tasks (uncapped activity types and workflows).

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


async def claim_capped_tasks(
    conn: AsyncConnection[Any],
    *,
    worker_id: str,
    namespace: str,
    queues: Sequence[str],
    type_name: str,
    cap: int,
    limit: int,
    lease_seconds: float,
) -> list[Row]:
    """Claim tasks of an activity type capped by ``max_concurrent`` across all workers.

    A transaction-scoped advisory lock per type serialises these claims, so two workers
    can never both spend the last free slot (plain SKIP LOCKED would let them).
    """
    claimed: list[Row] = []
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('harvest.cap:' || %s || ':' || %s))",
            (namespace, type_name),
        )
        cur = conn.cursor(row_factory=dict_row)
        for queue in queues:
            await cur.execute(
                _CLAIM_CAPPED_SQL,
                {
                    "worker": worker_id,
                    "namespace": namespace,
                    "queue": queue,
                    "type_name": type_name,
                    "cap": cap,
                    "limit": limit - len(claimed),
                    "lease": lease_seconds,
                },
            )
            claimed += await cur.fetchall()
    return claimed


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
    close_status: str | None = None
    result_json: str | None = None
    error_json: str | None = None
    search_attributes_json: str | None = None
    continuation: Continuation | None = None
    children: list[ChildStart] = field(default_factory=list)

    @property
    def new_seq(self) -> int:
        return self.expected_seq + len(self.events)


@dataclass
class DecisionOutcome:
    committed: set[int]
    lost: set[int]
    eager_activities: list[Row]
    closed_runs: list[str]


_COMMIT_DECISIONS_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(task_ids)s::bigint[], %(attempts)s::int[], %(run_ids)s::uuid[],
                         %(expected)s::int[], %(new_seq)s::int[], %(status)s::text[],
                         %(result)s::text[], %(error)s::text[], %(sattrs)s::text[])
        AS i(task_id, attempt, run_id, expected, new_seq, status, result, error, sattrs)
),
locked AS (
    SELECT t.task_id, t.dirty FROM harvest.tasks t JOIN input i USING (task_id)
    WHERE t.worker_id = %(worker)s AND t.attempt = i.attempt AND t.state = 'RUNNING'
    FOR UPDATE OF t
),
advanced AS (
    UPDATE harvest.runs r SET
        last_seq = i.new_seq,
        status = COALESCE(i.status, r.status),
        result = COALESCE(i.result::jsonb, r.result),
        error = COALESCE(i.error::jsonb, r.error),
        closed_at = CASE WHEN i.status IS NULL THEN NULL ELSE now() END,
        blocked = NULL,
        blocked_count = 0,
        search_attributes = CASE WHEN i.sattrs IS NULL THEN r.search_attributes
            ELSE jsonb_strip_nulls(r.search_attributes || i.sattrs::jsonb) END
    FROM input i JOIN locked l USING (task_id)
    WHERE r.run_id = i.run_id AND r.last_seq = i.expected AND r.status = 'RUNNING'
      -- an event that arrived during a final decision keeps the run open: decide again
      AND (i.status IS NULL OR NOT l.dirty)
    RETURNING r.run_id, i.task_id, l.dirty, i.status IS NOT NULL AS closed
),
appended AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT e.run_id, e.seq, e.event_type, e.at, e.payload::jsonb
    FROM unnest(%(ev_runs)s::uuid[], %(ev_seqs)s::int[], %(ev_types)s::text[],
                %(ev_ats)s::timestamptz[], %(ev_payloads)s::text[])
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
        heartbeat_timeout, max_concurrent, start_deadline, close_deadline)
    SELECT n.namespace, 'activity', n.run_id, n.type_name, n.queue,
        CASE WHEN n.eager THEN 'RUNNING' ELSE 'PENDING' END,
        CASE WHEN n.eager THEN %(worker)s END,
        CASE WHEN n.eager THEN 1 ELSE 0 END,
        CASE WHEN n.eager THEN now() + make_interval(secs => %(lease)s) END,
        CASE WHEN n.eager THEN now() END,
        CASE WHEN n.eager THEN now() + make_interval(secs => n.s2c) END,
        CASE WHEN n.eager THEN now() + make_interval(secs => n.hb) END,
        n.seq, n.args::jsonb, n.retry::jsonb, n.s2c, n.s2s, n.hb, n.cap,
        CASE WHEN NOT n.eager THEN now() + make_interval(secs => n.s2s) END,
        now() + make_interval(secs => n.sch2c)
    FROM unnest(%(act_ns)s::text[], %(act_runs)s::uuid[], %(act_types)s::text[],
        %(act_queues)s::text[], %(act_seqs)s::int[], %(act_args)s::text[],
        %(act_retry)s::text[], %(act_s2c)s::float8[], %(act_s2s)s::float8[],
        %(act_sch2c)s::float8[], %(act_hb)s::float8[], %(act_caps)s::int[],
        %(act_eager)s::bool[])
        AS n(namespace, run_id, type_name, queue, seq, args, retry, s2c, s2s, sch2c, hb, cap,
             eager)
    JOIN advanced a ON a.run_id = n.run_id AND NOT a.closed
    RETURNING t.task_id, t.run_id, t.activity_seq, t.queue, t.state = 'RUNNING' AS eager
),
armed AS (
    INSERT INTO harvest.timers (run_id, seq, namespace, fires_at)
    SELECT m.run_id, m.seq, m.namespace, m.fires_at
    FROM unnest(%(timer_runs)s::uuid[], %(timer_seqs)s::int[], %(timer_ns)s::text[],
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
        visible_at = now()
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
""" + _wake_cte(
    "parents_woken",
    "to_parents",
    # parents with a task in this batch are requeued above: a row changes once per statement
    "AND r.run_id NOT IN (SELECT i.run_id FROM input i JOIN locked l USING (task_id))",
) + """,
notified AS (
    SELECT pg_notify(%(tasks_channel)s, queue) FROM parents_woken
    UNION ALL
    SELECT pg_notify(%(runs_channel)s, a.run_id::text) FROM advanced a WHERE a.closed
    UNION ALL
    SELECT pg_notify(%(tasks_channel)s, q.queue)
    FROM (SELECT DISTINCT queue FROM scheduled WHERE NOT eager) q
    UNION ALL
    SELECT pg_notify(%(tasks_channel)s, '*') WHERE EXISTS (SELECT 1 FROM requeued)
)
SELECT 'advanced' AS what, a.task_id, a.run_id::text AS run_id, NULL::int AS seq,
       now() AS at
FROM advanced a
UNION ALL
SELECT 'eager', s.task_id, s.run_id::text, s.activity_seq, now() FROM scheduled s WHERE s.eager
UNION ALL
SELECT 'notified', count(*), NULL, NULL, now() FROM notified
"""


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
        "task_ids": [d.task_id for d in decisions],
        "attempts": [d.attempt for d in decisions],
        "run_ids": [d.run_id for d in decisions],
        "expected": [d.expected_seq for d in decisions],
        "new_seq": [d.new_seq for d in decisions],
        "status": [d.close_status for d in decisions],
        "result": [d.result_json for d in decisions],
        "error": [d.error_json for d in decisions],
        "sattrs": [d.search_attributes_json for d in decisions],
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
    # Continue-as-new and child starts insert more runs: the batch needs a real transaction.
    async with conn.transaction() if continuing or parents else contextlib.nullcontext():
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
            await queue_event(
                conn, decision.run_id, "ChildWorkflowFailed", json.dumps(failure)
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
            " visible_at = now() + make_interval(secs => LEAST(%s, %s * power(2, LEAST(20,"
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


async def release_task(
    conn: AsyncConnection[Any], *, task_id: int, attempt: int, worker_id: str, delay: float
) -> bool:
    """Give a claimed task back (e.g. the worker is shutting down or the task errored)."""
    cur = await conn.execute(
        "UPDATE harvest.tasks SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,"
        " visible_at = now() + make_interval(secs => %s)"
        " WHERE task_id = %s AND worker_id = %s AND attempt = %s AND state = 'RUNNING'",
        (delay, task_id, worker_id, attempt),
    )
    return cur.rowcount == 1


# ---------------------------------------------------------------------------------------
# activity outcomes (from workers and from the timeout sweeper)
# ---------------------------------------------------------------------------------------
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


_ACTIVITY_OUTCOMES_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(task_ids)s::bigint[], %(workers)s::text[], %(attempts)s::int[],
                         %(final)s::bool[], %(delays)s::float8[], %(errors)s::text[],
                         %(count_retry)s::bool[], %(details)s::text[])
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
        visible_at = now() + make_interval(secs => i.delay),
        retry_attempt = t.retry_attempt + CASE WHEN i.count_retry THEN 1 ELSE 0 END,
        crash_strikes = 0,
        last_error = i.last_error::jsonb, attempt_deadline = NULL, heartbeat_deadline = NULL,
        heartbeat_details = COALESCE(i.details::jsonb, t.heartbeat_details),
        start_deadline = now() + make_interval(secs => i.delay + t.schedule_to_start)
    FROM input i
    WHERE t.task_id = i.task_id AND t.worker_id IS NOT DISTINCT FROM i.worker_id
      AND t.attempt = i.attempt AND NOT i.final
    RETURNING t.task_id, t.run_id
),
ended AS (SELECT * FROM finished UNION ALL SELECT * FROM retried),
events AS (
    SELECT * FROM unnest(%(ev_tasks)s::bigint[], %(ev_types)s::text[], %(ev_payloads)s::text[])
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
                                    worker_id, attempt, lease_expires_at)
    SELECT r.namespace, 'workflow', r.run_id, r.workflow_type, r.queue,
        CASE WHEN r.workflow_type = ANY(%(eager_types)s) THEN 'RUNNING' ELSE 'PENDING' END,
        CASE WHEN r.workflow_type = ANY(%(eager_types)s) THEN %(eager_worker)s END,
        CASE WHEN r.workflow_type = ANY(%(eager_types)s) THEN 1 ELSE 0 END,
        CASE WHEN r.workflow_type = ANY(%(eager_types)s)
             THEN now() + make_interval(secs => %(lease)s) END
    FROM (SELECT DISTINCT run_id FROM ended) e
    JOIN harvest.runs r ON r.run_id = e.run_id AND r.status = 'RUNNING'
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
                {**item, "at": datetime.fromisoformat(item["at"])}
                for item in row["inbox"] or []
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
        " heartbeat_deadline = now() + make_interval(secs => heartbeat_timeout)"
        " WHERE task_id = %s AND worker_id = %s AND attempt = %s AND state = 'RUNNING'"
        " RETURNING (SELECT r.cancel_requested_at IS NOT NULL FROM harvest.runs r"
        "            WHERE r.run_id = t.run_id)",
        (details_json, task_id, worker_id, attempt),
    )
    row = await cur.fetchone()
    if row is None:
        return "lost"
    return "cancel" if row[0] else "ok"


# ---------------------------------------------------------------------------------------
# events from outside: signals, cancel requests
# ---------------------------------------------------------------------------------------
_QUEUE_EVENT_SQL = """
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
    UPDATE harvest.runs r SET cancel_requested_at = COALESCE(r.cancel_requested_at, now())
    FROM queued q WHERE r.run_id = q.run_id AND %(event_type)s = 'CancelRequested'
    RETURNING 1
),
""" + _wake_cte("woken", "queued") + """,
notified AS (SELECT pg_notify(%(channel)s, queue) FROM woken)
SELECT (SELECT count(*) FROM run) AS running, (SELECT count(*) FROM queued) AS queued,
       (SELECT count(*) FROM notified) AS notified, (SELECT count(*) FROM marked) AS marked
"""


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
    run's final decision (which then sees it) or refused because the run has ended.
    """
    for attempt in range(5):
        try:
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
            break
        except psycopg.errors.DeadlockDetected:
            if attempt == 4:
                raise
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
        deadline_clause = "AND deadline <= now()" if only_past_deadline else ""
        cur = await conn.execute(
            sql.SQL(
                "UPDATE harvest.runs r SET status = %s, closed_at = now(),"
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
            " SELECT r, s, %s, now(), p::jsonb FROM unnest(%s::uuid[], %s::int[], %s::text[])"
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


_TELL_PARENTS_SQL = """
WITH told AS (
    INSERT INTO harvest.inbox (run_id, event_type, payload)
    SELECT c.parent_run_id, 'ChildWorkflowFailed',
        jsonb_build_object('started_seq', c.parent_seq, 'run_id', c.run_id,
                           'status', c.status, 'error', c.error)
    FROM harvest.runs c JOIN harvest.runs p ON p.run_id = c.parent_run_id
    WHERE c.run_id = ANY(%(ids)s::uuid[]) AND p.status = 'RUNNING'
    RETURNING run_id
),
""" + _wake_cte("woken", "told") + """
SELECT pg_notify(%(channel)s, queue) FROM woken
"""


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
                    conn, child["run_id"], "CancelRequested",
                    json.dumps({"reason": "parent closed"}), dedupe_key="cancel",
                )
    return len(children)


_RESET_INSERT_SQL = """
WITH source AS (
    SELECT * FROM harvest.runs WHERE run_id = %(source)s
),
run AS (
    INSERT INTO harvest.runs (run_id, namespace, workflow_id, workflow_type, queue, status,
        input, last_seq, idempotency_key, fingerprint, search_attributes, memo,
        parent_run_id, parent_seq, parent_close_policy, reset_from)
    SELECT %(new)s, namespace, workflow_id, workflow_type, queue, 'RUNNING', input,
        %(boundary)s + 1, NULL, fingerprint, search_attributes, memo,
        parent_run_id, parent_seq, parent_close_policy, run_id
    FROM source
    RETURNING run_id, namespace, workflow_type, queue
),
prefix AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT %(new)s, h.seq, h.event_type, h.at, h.payload FROM harvest.history h
    WHERE h.run_id = %(source)s AND h.seq <= %(boundary)s
    UNION ALL
    SELECT %(new)s, %(boundary)s + 1, 'WorkflowResetFork', now(), %(fork)s::jsonb
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
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state)
    SELECT namespace, 'workflow', run_id, workflow_type, queue, 'PENDING' FROM run
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
            " VALUES (%s, %s, %s, now(), jsonb_build_object('reason', %s::text))",
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
        payload = json.dumps(
            {"update_id": update_id, "name": name, "args": json.loads(args_json)}
        )
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
            " updated_at = now()"
            " WHERE run_id = %s AND update_id = %s"
            "   AND status NOT IN ('REJECTED', 'COMPLETED', 'FAILED')",
            (status, json.dumps(result), None if error is None else json.dumps(error),
             run_id, update_id),
        )
    if run_ended:
        await conn.execute(
            "UPDATE harvest.updates SET status = 'FAILED', updated_at = now(),"
            " error = '{\"type\": \"RunEnded\", \"message\": \"the run ended first\"}'"
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


# ---------------------------------------------------------------------------------------
# queries
# ---------------------------------------------------------------------------------------
_SUBMIT_QUERY_SQL = """
WITH run AS (
    SELECT run_id, namespace, workflow_type, queue FROM harvest.runs WHERE run_id = %(run_id)s
),
query AS (
    INSERT INTO harvest.queries (run_id, name, args)
    SELECT run_id, %(name)s, %(args)s::jsonb FROM run
    RETURNING query_id
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, input)
    SELECT run.namespace, 'query', run.run_id, run.workflow_type, run.queue, 'PENDING',
           jsonb_build_object('query_id', query.query_id)
    FROM run, query
    RETURNING queue
)
SELECT query.query_id, pg_notify(%(channel)s, task.queue) FROM query, task
"""


async def submit_query(
    conn: AsyncConnection[Any], run_id: str, name: str, args_json: str
) -> int | None:
    """Queue a query for a worker that serves the run's workflow type (None: no such run)."""
    cur = await conn.execute(
        _SUBMIT_QUERY_SQL,
        {"run_id": run_id, "name": name, "args": args_json, "channel": TASKS_CHANNEL},
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def run_last_seq(conn: AsyncConnection[Any], run_id: str) -> int | None:
    cur = await conn.execute("SELECT last_seq FROM harvest.runs WHERE run_id = %s", (run_id,))
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def get_query(conn: AsyncConnection[Any], query_id: int) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT query_id, run_id::text AS run_id, name, args, status, result, error"
        " FROM harvest.queries WHERE query_id = %s",
        (query_id,),
    )
    return await cur.fetchone()


async def forget_query(conn: AsyncConnection[Any], query_id: int) -> None:
    """Drop a query and its task (answered, or given up on by the caller)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM harvest.tasks WHERE kind = 'query' AND (input->>'query_id')::bigint = %s",
            (query_id,),
        )
        await conn.execute("DELETE FROM harvest.queries WHERE query_id = %s", (query_id,))


_ANSWER_QUERY_SQL = """
WITH done AS (
    DELETE FROM harvest.tasks
    WHERE task_id = %(task_id)s AND worker_id = %(worker)s AND attempt = %(attempt)s
    RETURNING task_id
),
answered AS (
    UPDATE harvest.queries SET status = %(status)s, result = %(result)s::jsonb,
        error = %(error)s::jsonb, answered_at = now()
    WHERE query_id = %(query_id)s AND status = 'PENDING' AND EXISTS (SELECT 1 FROM done)
    RETURNING query_id
)
SELECT pg_notify(%(channel)s, 'q:' || query_id) FROM answered
"""


async def answer_query(
    conn: AsyncConnection[Any],
    *,
    task_id: int,
    worker_id: str,
    attempt: int,
    query_id: int,
    status: str,
    result_json: str | None,
    error_json: str | None,
) -> None:
    await conn.execute(
        _ANSWER_QUERY_SQL,
        {
            "task_id": task_id,
            "worker": worker_id,
            "attempt": attempt,
            "query_id": query_id,
            "status": status,
            "result": result_json,
            "error": error_json,
            "channel": QUERIES_CHANNEL,
        },
    )


# ---------------------------------------------------------------------------------------
# timers, leases, timeouts
# ---------------------------------------------------------------------------------------
_FIRE_TIMERS_SQL = f"""
WITH due AS (
    DELETE FROM harvest.timers WHERE (run_id, seq) IN (
        SELECT run_id, seq FROM harvest.timers WHERE fires_at <= now()
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
        "SELECT EXTRACT(EPOCH FROM (min(fires_at) - now()))::float8 FROM harvest.timers"
    )
    row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


_RECLAIM_SQL = """
WITH expired AS (
    SELECT task_id FROM harvest.tasks
    WHERE state = 'RUNNING' AND lease_expires_at < now()
    ORDER BY lease_expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
),
requeued AS (
    UPDATE harvest.tasks t SET state = 'PENDING', worker_id = NULL, lease_expires_at = NULL,
        crash_strikes = t.crash_strikes + 1, visible_at = now(),
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
           to_jsonb(q) - 'input'
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
       retry_policy, state,
       CASE WHEN close_deadline <= now() THEN 'schedule_to_close'
            WHEN state = 'PENDING' AND start_deadline <= now() THEN 'schedule_to_start'
            WHEN state = 'RUNNING' AND attempt_deadline <= now() THEN 'start_to_close'
            ELSE 'heartbeat' END AS timeout_type
FROM harvest.tasks
WHERE kind = 'activity' AND (
    close_deadline <= now()
    OR (state = 'PENDING' AND start_deadline <= now())
    OR (state = 'RUNNING' AND (attempt_deadline <= now() OR heartbeat_deadline <= now())))
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
        "SELECT run_id::text FROM harvest.runs WHERE status = 'RUNNING' AND deadline <= now()"
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


# ---------------------------------------------------------------------------------------
# reading runs
# ---------------------------------------------------------------------------------------
_RUN_COLUMNS = """
    run_id::text AS run_id, namespace, workflow_id, workflow_type, queue, status, input, result,
    error, last_seq, created_at, closed_at, deadline, idempotency_key, fingerprint, blocked,
    blocked_count, paused, cancel_requested_at, continued_from::text AS continued_from,
    search_attributes, memo, parent_run_id::text AS parent_run_id, parent_close_policy,
    reset_from::text AS reset_from
"""


async def get_run(
    conn: AsyncConnection[Any], namespace: str, ref: str, *, by_run_id: bool | None = None
) -> Row | None:
    """A run by run id, or the newest run (open first) of a workflow id."""
    cur = conn.cursor(row_factory=dict_row)
    if by_run_id is not False and _looks_like_uuid(ref):
        await cur.execute(
            f"SELECT {_RUN_COLUMNS} FROM harvest.runs WHERE run_id = %s::uuid AND namespace = %s",
            (ref, namespace),
        )
        row = await cur.fetchone()
        if row is not None or by_run_id:
            return row
    await cur.execute(
        f"SELECT {_RUN_COLUMNS} FROM harvest.runs WHERE namespace = %s AND workflow_id = %s"
        " ORDER BY (status = 'RUNNING') DESC, created_at DESC LIMIT 1",
        (namespace, ref),
    )
    return await cur.fetchone()


async def create_namespace(
    conn: AsyncConnection[Any], name: str, description: str | None
) -> bool:
    cur = await conn.execute(
        "INSERT INTO harvest.namespaces (name, description) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (name, description),
    )
    return cur.rowcount == 1


async def list_namespaces(conn: AsyncConnection[Any]) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT n.name, n.description, n.created_at,"
        " (SELECT count(*) FROM harvest.runs r WHERE r.namespace = n.name) AS runs,"
        " (SELECT count(*) FROM harvest.runs r WHERE r.namespace = n.name"
        "   AND r.status = 'RUNNING') AS running"
        " FROM harvest.namespaces n ORDER BY n.name"
    )
    return await cur.fetchall()


async def namespace_exists(conn: AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM harvest.namespaces WHERE name = %s", (name,))
    return await cur.fetchone() is not None


async def delete_namespace(conn: AsyncConnection[Any], name: str) -> str:
    """Delete an empty namespace: ``"deleted"``, ``"not_found"`` or ``"not_empty"``."""
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM harvest.namespaces WHERE name = %s FOR UPDATE", (name,)
        )
        if await cur.fetchone() is None:
            return "not_found"
        cur = await conn.execute(
            "SELECT 1 FROM harvest.runs WHERE namespace = %s LIMIT 1", (name,)
        )
        if await cur.fetchone() is not None:
            return "not_empty"
        await conn.execute("DELETE FROM harvest.registry WHERE namespace = %s", (name,))
        await conn.execute("DELETE FROM harvest.workers WHERE namespace = %s", (name,))
        await conn.execute("DELETE FROM harvest.namespaces WHERE name = %s", (name,))
    return "deleted"


async def run_activity_summary(conn: AsyncConnection[Any], run_id: str) -> list[Row]:
    """Open activity tasks and timers of a run (for ``describe``)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT kind, type_name, state, activity_seq, retry_attempt, worker_id, visible_at,"
        " last_error, crash_strikes FROM harvest.tasks WHERE run_id = %s::uuid ORDER BY task_id",
        (run_id,),
    )
    tasks = await cur.fetchall()
    await cur.execute(
        "SELECT 'timer' AS kind, seq, fires_at FROM harvest.timers WHERE run_id = %s::uuid"
        " ORDER BY fires_at",
        (run_id,),
    )
    return tasks + await cur.fetchall()


def _looks_like_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def compile_filter(node: filters.Node) -> tuple[sql.Composable, list[Any]]:
    """Turn a parsed filter into a SQL condition; every name and value is a parameter."""
    params: list[Any] = []

    def walk(n: filters.Node) -> sql.Composable:
        if isinstance(n, filters.BoolOp):
            joiner = sql.SQL(f" {n.op} ")
            return sql.SQL("({})").format(joiner.join([walk(p) for p in n.parts]))
        if isinstance(n, filters.Not):
            return sql.SQL("(NOT {})").format(walk(n.part))
        return comparison(n)

    def comparison(c: filters.Comparison) -> sql.Composable:
        if c.builtin is not None:
            column = sql.Identifier(c.builtin)
            cast = "::timestamptz" if c.builtin in ("created_at", "closed_at") else "::text"
            if c.op == "IN":
                params.append([str(v) for v in c.values if v is not None])
                return sql.SQL("{} = ANY(%s" + cast + "[])").format(column)
            if c.values[0] is None:
                return sql.SQL("{} IS NULL" if c.op == "=" else "{} IS NOT NULL").format(column)
            params.append(str(c.values[0]))
            return sql.SQL("{} " + c.op + " %s" + cast).format(column)
        if c.op in ("=", "IN"):
            alternatives = []
            for value in c.values:
                params.append(json.dumps({c.name: value}))
                alternatives.append(sql.SQL("search_attributes @> %s::jsonb"))
            return sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives))
        if c.op == "!=":
            params.append(json.dumps({c.name: c.values[0]}))
            return sql.SQL("(NOT search_attributes @> %s::jsonb)")
        # ordering compares like with like: numbers with numbers, strings with strings
        value = json.dumps(c.values[0])
        params.extend([c.name, value, c.name, value])
        return sql.SQL(
            "(jsonb_typeof(search_attributes -> %s) = jsonb_typeof(%s::jsonb)"
            " AND (search_attributes -> %s) " + c.op + " %s::jsonb)"
        )

    return walk(node), params


@dataclass
class RunFilter:
    namespace: str = "default"
    workflow_type: str | None = None
    statuses: Sequence[str] = ()
    started_after: datetime | None = None
    started_before: datetime | None = None
    workflow_id: str | None = None
    blocked: bool | None = None
    query: filters.Node | None = None


async def list_runs(
    conn: AsyncConnection[Any],
    flt: RunFilter,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Row]:
    """Newest first, keyset-paginated on (created_at, run_id)."""
    clauses: list[sql.Composable] = [sql.SQL("namespace = %s")]
    params: list[Any] = [flt.namespace]
    if flt.workflow_type:
        clauses.append(sql.SQL("workflow_type = %s"))
        params.append(flt.workflow_type)
    if flt.statuses:
        clauses.append(sql.SQL("status = ANY(%s)"))
        params.append(list(flt.statuses))
    if flt.started_after:
        clauses.append(sql.SQL("created_at >= %s"))
        params.append(flt.started_after)
    if flt.started_before:
        clauses.append(sql.SQL("created_at < %s"))
        params.append(flt.started_before)
    if flt.workflow_id:
        clauses.append(sql.SQL("workflow_id = %s"))
        params.append(flt.workflow_id)
    if flt.blocked is not None:
        clauses.append(sql.SQL("blocked IS NOT NULL" if flt.blocked else "blocked IS NULL"))
    if flt.query is not None:
        condition, condition_params = compile_filter(flt.query)
        clauses.append(condition)
        params.extend(condition_params)
    if after is not None:
        clauses.append(sql.SQL("(created_at, run_id) < (%s, %s::uuid)"))
        params.extend(after)
    query = sql.SQL("SELECT {cols} FROM harvest.runs WHERE {where}"
                    " ORDER BY created_at DESC, run_id DESC LIMIT %s").format(
        cols=sql.SQL(_RUN_COLUMNS), where=sql.SQL(" AND ").join(clauses)
    )
    params.append(limit)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    return await cur.fetchall()


async def run_chain(conn: AsyncConnection[Any], run_id: str) -> list[Row]:
    """The continue-as-new chain through ``run_id``, oldest first."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""
        WITH RECURSIVE back AS (
            SELECT run_id, continued_from, 0 AS depth FROM harvest.runs WHERE run_id = %s
            UNION ALL
            SELECT r.run_id, r.continued_from, b.depth - 1
            FROM harvest.runs r JOIN back b ON r.run_id = b.continued_from
        ), forward AS (
            SELECT run_id, 0 AS depth FROM harvest.runs WHERE run_id = %s
            UNION ALL
            SELECT r.run_id, f.depth + 1
            FROM harvest.runs r JOIN forward f ON r.continued_from = f.run_id
        ), chain AS (
            SELECT run_id, depth FROM back UNION SELECT run_id, depth FROM forward
        )
        SELECT {_RUN_COLUMNS} FROM harvest.runs JOIN chain USING (run_id) ORDER BY chain.depth
        """,
        (run_id, run_id),
    )
    return await cur.fetchall()


async def run_tree(conn: AsyncConnection[Any], run_id: str) -> list[Row]:
    """A run and all its descendants (children, grandchildren...), with their depth."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"""
        WITH RECURSIVE tree AS (
            SELECT run_id, 0 AS depth FROM harvest.runs WHERE run_id = %s
            UNION ALL
            SELECT r.run_id, t.depth + 1 FROM harvest.runs r JOIN tree t
                ON r.parent_run_id = t.run_id
        )
        SELECT {_RUN_COLUMNS}, tree.depth
        FROM harvest.runs JOIN tree USING (run_id) ORDER BY tree.depth, created_at
        """,
        (run_id,),
    )
    return await cur.fetchall()


async def get_history(
    conn: AsyncConnection[Any], run_id: str, *, after_seq: int = 0, limit: int | None = None
) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT seq, event_type, at, payload FROM harvest.history"
        " WHERE run_id = %s::uuid AND seq > %s ORDER BY seq LIMIT %s",
        (run_id, after_seq, limit),
    )
    return await cur.fetchall()


async def run_status(conn: AsyncConnection[Any], run_id: str) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT status, result, error FROM harvest.runs WHERE run_id = %s::uuid", (run_id,)
    )
    return await cur.fetchone()


async def dead_letters(conn: AsyncConnection[Any], run_id: str | None = None) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, namespace, task_id, kind, run_id::text AS run_id, type_name, reason,"
        " created_at FROM harvest.dead_letters"
        " WHERE %s::uuid IS NULL OR run_id = %s::uuid ORDER BY id",
        (run_id, run_id),
    )
    return await cur.fetchall()


def is_unique_violation(exc: BaseException, constraint: str | None = None) -> bool:
    if not isinstance(exc, psycopg.errors.UniqueViolation):
        return False
    if constraint is None:
        return True
    diag = exc.diag.constraint_name
    return diag == constraint
