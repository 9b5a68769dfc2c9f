"""Starting runs: ``harvest.runs`` rows with their first history events and workflow task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import TASKS_CHANNEL, Row


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
    priority: int | None = None,
    fairness_key: str | None = None,
    if_absent: bool = False,
) -> bool:
    """Insert the run, its ``WorkflowStarted`` event (then any signals sent with the start)
    and its first workflow task: one statement, so in autocommit mode one round trip.

    ``priority`` and ``fairness_key`` default to those of the run continued from, or of the
    parent. A run with a fairness key gets its round: one after its key's previous run in
    the queue, or the round at the head of the queue if that is later (start-time fair
    queuing), so a key with a thousand runs waiting does not hold up a key with one.

    ``if_absent``: a run of ``workflow_id`` still open is not an error; nothing is written
    and False is returned (a schedule's slot whose id is taken)."""
    return await insert_run_with(
        conn,
        run_params(
            run_id=run_id,
            namespace=namespace,
            workflow_id=workflow_id,
            workflow_type=workflow_type,
            queue=queue,
            input_json=input_json,
            started_json=started_json,
            fingerprint=fingerprint,
            execution_timeout=execution_timeout,
            idempotency_key=idempotency_key,
            start_signals=start_signals,
            continued_from=continued_from,
            search_attributes_json=search_attributes_json,
            memo_json=memo_json,
            start_delay=start_delay,
            parent=parent,
            priority=priority,
            fairness_key=fairness_key,
        ),
        if_absent=if_absent,
    )


async def insert_run_with(
    conn: AsyncConnection[Any], params: dict[str, Any], *, if_absent: bool = False
) -> bool:
    """:func:`insert_run` with parameters from :func:`run_params`."""
    cur = await conn.execute(_INSERT_RUN_IF_ABSENT_SQL if if_absent else _INSERT_RUN_SQL, params)
    return cur.rowcount > 0


def run_params(
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
    priority: int | None = None,
    fairness_key: str | None = None,
) -> dict[str, Any]:
    """The parameters of :func:`insert_run_ctes`."""
    return {
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
        "priority": priority,
        "fairness_key": fairness_key,
    }


def insert_run_ctes(*, if_absent: bool = False, gate: str = "true") -> str:
    """The CTEs that insert a run (``src``, ``fair``, ``run``, ``started``, ``task``), for a
    ``WITH`` list; :func:`run_params` gives their parameters. The run is inserted only if
    ``gate`` holds (a condition on CTEs placed before these), and with ``if_absent`` only
    if no run of its workflow id is open."""
    conflict = "ON CONFLICT DO NOTHING" if if_absent else ""
    return f"""
src AS (
    SELECT COALESCE(%(priority)s::int, p.priority, 0) AS priority,
           COALESCE(%(fairness_key)s::text, p.fairness_key) AS fairness_key
    FROM (SELECT 1) one
    LEFT JOIN harvest.runs p ON p.run_id = COALESCE(%(continued_from)s::uuid, %(parent)s::uuid)
    WHERE {gate}
),
fair AS (
    INSERT INTO harvest.fair_keys AS k (namespace, queue, fairness_key, last_round)
    SELECT %(namespace)s, %(queue)s, src.fairness_key, COALESCE((
        SELECT t.fair_round FROM harvest.tasks t
        WHERE t.namespace = %(namespace)s AND t.queue = %(queue)s AND t.state = 'PENDING'
          AND t.priority = src.priority AND t.fair_round > 0
        ORDER BY t.fair_round LIMIT 1), 1)
    FROM src WHERE src.fairness_key IS NOT NULL
    ON CONFLICT (namespace, queue, fairness_key)
        DO UPDATE SET last_round = GREATEST(k.last_round + 1, EXCLUDED.last_round)
    RETURNING last_round
),
run AS (
    INSERT INTO harvest.runs (run_id, namespace, workflow_id, workflow_type, queue, status,
        input, last_seq, deadline, idempotency_key, fingerprint, continued_from,
        search_attributes, memo, parent_run_id, parent_seq, parent_close_policy,
        priority, fairness_key, fair_round, held, admitted_at)
    SELECT %(run_id)s::uuid, %(namespace)s::text, %(workflow_id)s::text,
        %(workflow_type)s::text, %(queue)s::text, 'RUNNING', %(input)s::jsonb,
        %(last_seq)s::int, harvest.now() + make_interval(secs => %(delay)s + %(timeout)s),
        %(key)s::text, %(fingerprint)s::text, %(continued_from)s::uuid,
        COALESCE(%(sattrs)s::jsonb, (SELECT p.search_attributes FROM harvest.runs p
                                     WHERE p.run_id = %(continued_from)s), '{{}}'::jsonb),
        COALESCE(%(memo)s::jsonb, (SELECT p.memo FROM harvest.runs p
                                   WHERE p.run_id = %(continued_from)s)),
        -- a continued child stays its parent's child
        COALESCE(%(parent)s::uuid, (SELECT p.parent_run_id FROM harvest.runs p
                                    WHERE p.run_id = %(continued_from)s)),
        COALESCE(%(parent_seq)s::int, (SELECT p.parent_seq FROM harvest.runs p
                                       WHERE p.run_id = %(continued_from)s)),
        COALESCE(%(policy)s::text, (SELECT p.parent_close_policy FROM harvest.runs p
                                    WHERE p.run_id = %(continued_from)s)),
        src.priority, src.fairness_key, COALESCE((SELECT last_round FROM fair), 0),
        -- under a workflow limit a new run waits for a slot; a continuation keeps its own
        %(continued_from)s::uuid IS NULL AND EXISTS (
            SELECT 1 FROM harvest.flow_limits f
            WHERE f.namespace = %(namespace)s AND f.max_workflows IS NOT NULL
              AND ((f.scope = 'workflow' AND f.name = %(workflow_type)s)
                   OR (f.scope = 'queue' AND f.name = %(queue)s))),
        (SELECT p.admitted_at FROM harvest.runs p WHERE p.run_id = %(continued_from)s)
    FROM src
    {conflict}
    RETURNING run_id, priority, fair_round
),
started AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT run_id, 1, 'WorkflowStarted', harvest.now(), %(started)s::jsonb FROM run
    UNION ALL
    SELECT run_id, 1 + s.n, 'SignalReceived', harvest.now(), s.payload::jsonb
    FROM run, unnest(%(signals)b::text[]) WITH ORDINALITY AS s(payload, n)
    RETURNING 1
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, visible_at,
                               priority, fair_round)
    SELECT %(namespace)s, 'workflow', run_id, %(workflow_type)s, %(queue)s, 'PENDING',
           harvest.now() + make_interval(secs => %(delay)s), priority, fair_round
    FROM run
    RETURNING 1
)"""


_INSERT_RUN_SQL = f"""WITH {insert_run_ctes()}
SELECT pg_notify(%(channel)s, %(queue)s) FROM task"""
_INSERT_RUN_IF_ABSENT_SQL = f"""WITH {insert_run_ctes(if_absent=True)}
SELECT pg_notify(%(channel)s, %(queue)s) FROM task"""
