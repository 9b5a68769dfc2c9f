"""Queries: the ``harvest.queries`` table and its query tasks."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import QUERIES_CHANNEL, TASKS_CHANNEL, Row

_SUBMIT_QUERY_SQL = """
WITH run AS (
    SELECT run_id, namespace, workflow_type, queue, priority, fair_round FROM harvest.runs
    WHERE run_id = %(run_id)s
),
query AS (
    INSERT INTO harvest.queries (run_id, name, args)
    SELECT run_id, %(name)s, %(args)s::jsonb FROM run
    RETURNING query_id
),
task AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, input,
                               priority, fair_round)
    SELECT run.namespace, 'query', run.run_id, run.workflow_type, run.queue, 'PENDING',
           jsonb_build_object('query_id', query.query_id), run.priority, run.fair_round
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
        error = %(error)s::jsonb, answered_at = harvest.now()
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
