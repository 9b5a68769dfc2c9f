"""Reading runs: ``harvest.runs``, their history, open tasks and timers, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from ._sql import Row
from .filters import RunFilter, compile_filter

_RUN_COLUMNS = """
    run_id::text AS run_id, namespace, workflow_id, workflow_type, queue, status, input, result,
    error, last_seq, created_at, closed_at, deadline, idempotency_key, fingerprint, blocked,
    blocked_count, paused, cancel_requested_at, continued_from::text AS continued_from,
    search_attributes, memo, parent_run_id::text AS parent_run_id, parent_close_policy,
    reset_from::text AS reset_from, waiting, held
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


async def run_activity_summary(conn: AsyncConnection[Any], run_id: str) -> list[Row]:
    """Open activity tasks, timers and signals waiting in the inbox of a run (for
    ``describe``)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT kind, type_name, state, activity_seq, retry_attempt, worker_id, visible_at,"
        " last_error, crash_strikes, started_at, attempt_deadline, heartbeat_details"
        " FROM harvest.tasks WHERE run_id = %s::uuid ORDER BY task_id",
        (run_id,),
    )
    tasks = await cur.fetchall()
    await cur.execute(
        "SELECT 'timer' AS kind, seq, fires_at FROM harvest.timers WHERE run_id = %s::uuid"
        " ORDER BY fires_at",
        (run_id,),
    )
    timers = await cur.fetchall()
    # signals delivered but not yet seen by the run's code (the next decision takes them)
    await cur.execute(
        "SELECT 'signal' AS kind, payload->>'name' AS type_name, at AS visible_at"
        " FROM harvest.inbox WHERE run_id = %s::uuid AND event_type = 'SignalReceived'"
        " ORDER BY id LIMIT 50",
        (run_id,),
    )
    return tasks + timers + await cur.fetchall()


def _looks_like_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


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


async def chain_head(conn: AsyncConnection[Any], run_id: str) -> str | None:
    """The newest run of the continue-as-new chain that ``run_id`` starts or belongs to
    (``run_id`` itself when it was not continued); None if there is no such run."""
    cur = await conn.execute(
        """
        WITH RECURSIVE forward AS (
            SELECT run_id, 0 AS depth FROM harvest.runs WHERE run_id = %s::uuid
            UNION ALL
            SELECT r.run_id, f.depth + 1
            FROM harvest.runs r JOIN forward f ON r.continued_from = f.run_id
        )
        SELECT run_id::text FROM forward ORDER BY depth DESC LIMIT 1
        """,
        (run_id,),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


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


async def attempt_logs(
    conn: AsyncConnection[Any], run_id: str, activity_seq: int | None = None,
    *, latest: bool = False,
) -> list[Row]:
    """What the run's activity attempts printed or logged, in order of activity and attempt
    (with ``latest``, only the one written last)."""
    cur = conn.cursor(row_factory=dict_row)
    order = ("ORDER BY at DESC, activity_seq DESC, attempt DESC LIMIT 1" if latest
             else "ORDER BY activity_seq, attempt")
    await cur.execute(
        "SELECT activity_seq, attempt, output, dropped, at FROM harvest.attempt_logs"
        " WHERE run_id = %s::uuid AND (%s::int IS NULL OR activity_seq = %s::int) " + order,
        (run_id, activity_seq, activity_seq),
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
