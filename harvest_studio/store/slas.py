"""SLA misses: runs still running past the SLA of their workflow type (``sla_misses``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import Row


async def claim_sla_misses(
    conn: AsyncConnection[Any], namespace: str, slas: Sequence[tuple[str, float]]
) -> list[Row]:
    """Record the runs of ``namespace`` still running longer than the SLA of their type
    (``(workflow type, seconds)`` pairs) and not recorded yet; returns those this call
    recorded (each run once, however many workers look)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """
        WITH slas AS (SELECT * FROM unnest(%(types)s::text[], %(secs)s::float8[])
                          AS s(workflow_type, seconds)),
        missed AS (
            INSERT INTO harvest.sla_misses (run_id, namespace, workflow_type, sla_seconds)
            SELECT r.run_id, r.namespace, r.workflow_type, s.seconds
            FROM slas s JOIN harvest.runs r ON r.namespace = %(ns)s
                AND r.workflow_type = s.workflow_type AND r.status = 'RUNNING'
                AND r.created_at < harvest.now() - make_interval(secs => s.seconds)
            ON CONFLICT (run_id) DO NOTHING
            RETURNING run_id, sla_seconds
        )
        SELECT m.run_id::text, r.workflow_id, r.workflow_type, r.namespace, r.created_at,
               m.sla_seconds
        FROM missed m JOIN harvest.runs r ON r.run_id = m.run_id
        """,
        {"ns": namespace, "types": [t for t, _ in slas], "secs": [s for _, s in slas]},
    )
    return await cur.fetchall()
