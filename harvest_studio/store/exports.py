"""Copying runs and their histories out in bulk (``COPY ... TO STDOUT``, CSV) for the
analysis bench: one read-only, repeatable-read snapshot, so each run's ``last_seq`` matches
the events copied with it. The caller says which events it already has per run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

RUN_COLUMNS = (
    "run_id",
    "namespace",
    "workflow_id",
    "workflow_type",
    "queue",
    "status",
    "created_at",
    "closed_at",
    "last_seq",
    "code_version",
    "parent_run_id",
    "continued_from",
    "priority",
    "search_attributes",
    "error_type",
)
EVENT_COLUMNS = ("run_id", "seq", "type", "at", "payload")

_RUNS_SQL = """
COPY (
    SELECT r.run_id, r.namespace, r.workflow_id, r.workflow_type, r.queue, r.status,
           r.created_at, r.closed_at, r.last_seq, r.fingerprint, r.parent_run_id,
           r.continued_from, r.priority, r.search_attributes, r.error->>'type'
    FROM harvest.runs r
    WHERE ({namespaces}) AND (%(since)s::timestamptz IS NULL OR r.created_at >= %(since)s
                              OR r.closed_at IS NULL OR r.closed_at >= %(since)s)
) TO STDOUT (FORMAT csv)
"""

_EVENTS_SQL = """
COPY (
    SELECT h.run_id, h.seq, h.event_type, h.at, h.payload
    FROM pg_temp.harvest_wanted w
    JOIN harvest.history h ON h.run_id = w.run_id AND h.seq > w.after_seq
) TO STDOUT (FORMAT csv)
"""


async def export_runs_and_events(
    conn: AsyncConnection[Any],
    *,
    namespace: str | None,
    since: datetime | None,
    runs_out: Any,
    events_out: Any,
    wanted: Callable[[], Sequence[tuple[str, int]]],
) -> None:
    """Write the runs of ``namespace`` (all namespaces if None) created, open or closed
    since ``since`` to ``runs_out`` as CSV (columns :data:`RUN_COLUMNS`); then call
    ``wanted()``, which reads that file and returns ``(run_id, after_seq)`` for the runs
    whose events it lacks, and write those events to ``events_out`` (columns
    :data:`EVENT_COLUMNS`). One repeatable-read snapshot: a run's ``last_seq`` matches the
    events copied with it, and nothing a worker writes meanwhile is half copied.
    ``runs_out``/``events_out`` are binary files."""
    namespaces = (
        sql.SQL("true") if namespace is None else sql.SQL("r.namespace = {}").format(namespace)
    )
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur = conn.cursor()
        runs_sql = sql.SQL(_RUNS_SQL).format(namespaces=namespaces)  # type: ignore[arg-type]
        async with cur.copy(runs_sql, {"since": since}) as copy:
            async for chunk in copy:
                runs_out.write(chunk)
        runs_out.flush()
        pairs = wanted()
        await conn.execute(
            "CREATE TEMP TABLE harvest_wanted (run_id uuid, after_seq int) ON COMMIT DROP"
        )
        if pairs:
            async with cur.copy("COPY pg_temp.harvest_wanted FROM STDIN") as copy:
                for run_id, after in pairs:
                    await copy.write_row((run_id, after))
        async with cur.copy(_EVENTS_SQL) as copy:
            async for chunk in copy:
                events_out.write(chunk)
        events_out.flush()
