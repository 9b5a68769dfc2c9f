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
    cur = await conn.execute(
        _INSERT_RUN_IF_ABSENT_SQL if if_absent else _INSERT_RUN_SQL,
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
            "priority": priority,
            "fairness_key": fairness_key,
        },
    )
    return cur.rowcount > 0


_INSERT_RUN_SQL = """
WITH src AS (
    SELECT COALESCE(%(priority)s::int, p.priority, 0) AS priority,
           COALESCE(%(fairness_key)s::text, p.fairness_key) AS fairness_key
    FROM (SELECT 1) one
    LEFT JOIN harvest.runs p ON p.run_id = COALESCE(%(continued_from)s::uuid, %(parent)s::uuid)
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
        priority, fairness_key, fair_round)
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
                                    WHERE p.run_id = %(continued_from)s)),
        (SELECT priority FROM src), (SELECT fairness_key FROM src),
        COALESCE((SELECT last_round FROM fair), 0))
    RETURNING run_id, priority, fair_round
),
started AS (
    INSERT INTO harvest.history (run_id, seq, event_type, at, payload)
    SELECT run_id, 1, 'WorkflowStarted', now(), %(started)s::jsonb FROM run
    UNION ALL
    SELECT run_id, 1 + s.n, 'SignalReceived', now(), s.payload::jsonb
    FROM run, unnest(%(signals)b::text[]) WITH ORDINALITY AS s(payload, n)
    RETURNING 1
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, visible_at,
                               priority, fair_round)
    SELECT %(namespace)s, 'workflow', run_id, %(workflow_type)s, %(queue)s, 'PENDING',
           now() + make_interval(secs => %(delay)s), priority, fair_round
    FROM run
    RETURNING 1
)
SELECT pg_notify(%(channel)s, %(queue)s) FROM task
"""

_INSERT_RUN_IF_ABSENT_SQL = _INSERT_RUN_SQL.replace(
    "    RETURNING run_id, priority, fair_round",
    "    ON CONFLICT DO NOTHING\n    RETURNING run_id, priority, fair_round",
)
assert _INSERT_RUN_IF_ABSENT_SQL != _INSERT_RUN_SQL
