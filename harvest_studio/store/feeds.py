"""What live feeds poll: a run's status and newest event, and the runs of a namespace that
started or ended after a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row


async def run_progress(conn: AsyncConnection[Any], run_id: str) -> tuple[str, int] | None:
    """The run's status and the seq of its newest event, or None if there is no such run."""
    cur = await conn.execute(
        "SELECT status, last_seq FROM harvest.runs WHERE run_id = %s::uuid", (run_id,)
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


async def run_changes(
    conn: AsyncConnection[Any], namespace: str, since: datetime | None, limit: int = 1000
) -> tuple[datetime, list[Row]]:
    """The database's clock now, and the runs of ``namespace`` created or closed at or
    after ``since`` (none when ``since`` is None), oldest change first."""
    cur = await conn.execute("SELECT clock_timestamp()")
    row = await cur.fetchone()
    assert row is not None
    if since is None:
        return row[0], []
    rows = conn.cursor(row_factory=dict_row)
    await rows.execute(
        "SELECT run_id::text, workflow_id, workflow_type, status, created_at, closed_at,"
        " greatest(created_at, coalesce(closed_at, created_at)) AS changed_at"
        " FROM harvest.runs WHERE namespace = %(ns)s"
        " AND (created_at >= %(since)s OR closed_at >= %(since)s)"
        " ORDER BY changed_at LIMIT %(limit)s",
        {"ns": namespace, "since": since, "limit": limit},
    )
    return row[0], await rows.fetchall()
