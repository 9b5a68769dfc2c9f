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


# A run's created_at and closed_at are the start time of the transaction that wrote them,
# which commits later: polling "changed since my last look" by the clock would miss a row
# whose transaction was still open at the last look. The watermark is the start of the
# oldest transaction still open in the database (else now): every change stamped before it
# is visible. Every open transaction of a client counts, not only those that wrote already:
# one that has not written yet will stamp its rows with its start all the same (autovacuum
# and other server processes do not count: they write no runs). (pg_stat_activity
# shows other sessions' transactions to the same role, or to members of pg_read_all_stats:
# the engine's sessions, as deployed.)
WATERMARK_SQL = """
SELECT least(harvest.now(), coalesce(
    (SELECT min(a.xact_start) FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.xact_start IS NOT NULL
       AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()),
    now()) + (harvest.now() - now()))
"""


async def visible_watermark(conn: AsyncConnection[Any]) -> datetime:
    """The moment before which every run start and end is committed and visible."""
    cur = await conn.execute(WATERMARK_SQL)
    row = await cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


async def run_changes(
    conn: AsyncConnection[Any], namespace: str, since: datetime | None, limit: int = 1000
) -> tuple[datetime, list[Row]]:
    """The watermark now, and up to ``limit`` runs of ``namespace`` created or closed at
    or after ``since`` and before the watermark (none when ``since`` is None), oldest
    change first. Fewer than ``limit``: that was all of them."""
    mark = await visible_watermark(conn)
    if since is None:
        return mark, []
    rows = conn.cursor(row_factory=dict_row)
    await rows.execute(
        "SELECT run_id::text, workflow_id, workflow_type, status, created_at, closed_at,"
        " greatest(created_at, coalesce(closed_at, created_at)) AS changed_at"
        " FROM harvest.runs WHERE namespace = %(ns)s"
        " AND ((created_at >= %(since)s AND created_at < %(mark)s)"
        "      OR (closed_at >= %(since)s AND closed_at < %(mark)s))"
        " ORDER BY changed_at LIMIT %(limit)s",
        {"ns": namespace, "since": since, "mark": mark, "limit": limit},
    )
    return mark, await rows.fetchall()


async def run_counts(conn: AsyncConnection[Any], namespace: str, failed_within: float
                     ) -> dict[str, int]:
    """Runs of ``namespace`` running (and not blocked), blocked, and failed in the last
    ``failed_within`` seconds: what a status line shows."""
    cur = await conn.execute(
        "SELECT count(*) FILTER (WHERE blocked IS NULL),"
        "       count(*) FILTER (WHERE blocked IS NOT NULL),"
        "       (SELECT count(*) FROM harvest.runs WHERE namespace = %(ns)s"
        "          AND status = 'FAILED'"
        "          AND closed_at >= harvest.now() - make_interval(secs => %(within)s))"
        " FROM harvest.runs WHERE namespace = %(ns)s AND status = 'RUNNING'",
        {"ns": namespace, "within": failed_within},
    )
    row = await cur.fetchone()
    assert row is not None
    return {"running": row[0], "blocked": row[1], "failed": row[2]}
