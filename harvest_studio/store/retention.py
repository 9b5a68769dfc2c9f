"""Retention: which ended runs are due for removal, reading them whole for an archive, and
deleting them with everything that belongs to them (the only path allowed to delete from
the append-only history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row

# everything keyed by a run that goes with it; schedules keep their log and slots (a slot's
# run id then names a run that is gone, as the log says)
_OWNED_BY_RUN = ("attempt_logs", "dead_letters", "failed_run_triage", "history", "inbox",
                 "queries", "signal_keys", "sla_misses", "tasks", "timers", "updates",
                 "webhook_deliveries")


async def due_runs(
    conn: AsyncConnection[Any],
    *,
    namespace: str | None,
    ended_before: datetime | None,
    limit: int,
) -> list[str]:
    """Up to ``limit`` ended runs due for removal, oldest first, locked for this
    transaction (others purging at once take other runs): ended before ``ended_before``,
    or, without it, ended longer ago than their namespace's retention."""
    if ended_before is not None:
        due = "r.closed_at < %(before)s"
    else:
        due = ("r.closed_at < harvest.now()"
               " - make_interval(secs => n.retention_seconds)")
    cur = await conn.execute(
        "SELECT r.run_id::text FROM harvest.runs r"
        " JOIN harvest.namespaces n ON n.name = r.namespace"
        " WHERE r.closed_at IS NOT NULL AND r.status <> 'RUNNING'"
        " AND (%(ns)s::text IS NULL OR r.namespace = %(ns)s)"
        f" AND {due} ORDER BY r.closed_at LIMIT %(limit)s FOR UPDATE OF r SKIP LOCKED",
        {"ns": namespace, "before": ended_before, "limit": limit},
    )
    return [row[0] for row in await cur.fetchall()]


async def count_due_runs(
    conn: AsyncConnection[Any], *, namespace: str | None, ended_before: datetime | None
) -> int:
    """How many ended runs :func:`due_runs` would take (no locks: for a dry run)."""
    due = ("r.closed_at < %(before)s" if ended_before is not None else
           "r.closed_at < harvest.now() - make_interval(secs => n.retention_seconds)")
    cur = await conn.execute(
        "SELECT count(*) FROM harvest.runs r JOIN harvest.namespaces n ON n.name = r.namespace"
        " WHERE r.closed_at IS NOT NULL AND r.status <> 'RUNNING'"
        f" AND (%(ns)s::text IS NULL OR r.namespace = %(ns)s) AND {due}",
        {"ns": namespace, "before": ended_before},
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def runs_with_histories(conn: AsyncConnection[Any], run_ids: list[str]) -> list[Row]:
    """Each run's whole row and its whole history, for an archive."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT to_jsonb(r) AS run, coalesce((SELECT jsonb_agg(jsonb_build_object("
        "   'seq', h.seq, 'at', h.at, 'type', h.event_type, 'payload', h.payload)"
        "   ORDER BY h.seq) FROM harvest.history h WHERE h.run_id = r.run_id), '[]')"
        "   AS events"
        " FROM harvest.runs r WHERE r.run_id = ANY(%s::uuid[]) ORDER BY r.closed_at, r.run_id",
        (run_ids,),
    )
    return await cur.fetchall()


async def delete_runs(conn: AsyncConnection[Any], run_ids: list[str]) -> int:
    """Delete the runs and what they own, in the caller's transaction."""
    await conn.execute("SET LOCAL harvest.purging = 'on'")
    for table in _OWNED_BY_RUN:
        await conn.execute(
            f"DELETE FROM harvest.{table} WHERE run_id = ANY(%s::uuid[])", (run_ids,)
        )
    cur = await conn.execute("DELETE FROM harvest.runs WHERE run_id = ANY(%s::uuid[])",
                             (run_ids,))
    await conn.execute("SET LOCAL harvest.purging = 'off'")
    return cur.rowcount


async def set_retention(
    conn: AsyncConnection[Any], namespace: str, seconds: float | None
) -> bool:
    cur = await conn.execute(
        "UPDATE harvest.namespaces SET retention_seconds = %s WHERE name = %s",
        (seconds, namespace),
    )
    return cur.rowcount == 1
