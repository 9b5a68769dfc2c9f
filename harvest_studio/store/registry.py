"""Type registration and workers: the ``harvest.registry`` and ``harvest.workers`` tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ..model.definitions import WorkflowDefinition
from ._sql import Row


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    fingerprint: str
    queue: str
    execution_timeout: float | None = None
    details_json: str | None = None


def workflow_registration(workflow: WorkflowDefinition) -> Registration:
    """How a workflow definition is recorded (a DAG with its graph)."""
    details = workflow.details()
    arity = workflow.arity()
    if arity is not None:
        details = {**(details or {}), "arity": list(arity)}
    return Registration(
        "workflow",
        workflow.name,
        workflow.fingerprint,
        workflow.queue,
        workflow.execution_timeout,
        None if details is None else json.dumps(details),
    )


_REFRESH = (
    " ON CONFLICT (namespace, kind, name, fingerprint) DO UPDATE SET last_seen = harvest.now(),"
    " queue = EXCLUDED.queue, execution_timeout = EXCLUDED.execution_timeout,"
    " details = EXCLUDED.details"
)
_KEEP = " ON CONFLICT (namespace, kind, name, fingerprint) DO NOTHING"


async def register_types(
    conn: AsyncConnection[Any],
    namespace: str,
    entries: Iterable[Registration],
    *,
    served: bool = True,
) -> None:
    """Record workflow and activity types (and code fingerprints).

    ``served``: a worker serves them now, so a known version is refreshed as the newest.
    Otherwise a client knows the definition (it starts a run before any worker is up): the
    type becomes known, and a version a worker registered is left as it is.
    """
    rows = list(entries)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO harvest.registry (namespace, kind, name, fingerprint, queue,"
        " execution_timeout, details)"
        " SELECT %s, k, n, f, q, t, d::jsonb FROM unnest(%b::text[], %b::text[], %b::text[],"
        " %b::text[], %s::float8[], %b::text[]) AS u(k, n, f, q, t, d)"
        + (_REFRESH if served else _KEEP),
        (
            namespace,
            [r.kind for r in rows],
            [r.name for r in rows],
            [r.fingerprint for r in rows],
            [r.queue for r in rows],
            [r.execution_timeout for r in rows],
            [r.details_json for r in rows],
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
        "SELECT fingerprint, queue, execution_timeout, details->'arity' AS arity"
        " FROM harvest.registry"
        " WHERE namespace = %s AND kind = 'workflow' AND name = %s"
        " ORDER BY last_seen DESC LIMIT 1",
        (namespace, name),
    )
    return await cur.fetchone()


async def workflow_details(
    conn: AsyncConnection[Any], namespace: str, name: str, fingerprint: str | None
) -> Any:
    """The recorded details (a DAG's graph) of a workflow type's version; with no
    fingerprint, of its newest version. ``None`` if none were recorded."""
    cur = await conn.execute(
        "SELECT details FROM harvest.registry WHERE namespace = %s AND kind = 'workflow'"
        " AND name = %s AND (%s::text IS NULL OR fingerprint = %s) AND details IS NOT NULL"
        " ORDER BY last_seen DESC LIMIT 1",
        (namespace, name, fingerprint, fingerprint),
    )
    row = await cur.fetchone()
    return None if row is None else row[0]


async def dag_types(conn: AsyncConnection[Any], namespace: str) -> list[Row]:
    """The DAG types of a namespace: the newest version's graph, and the newest run."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT DISTINCT ON (g.name) g.name, g.fingerprint, g.last_seen,"
        " g.details->'dag' AS graph, r.run_id::text AS last_run_id, r.status AS last_status,"
        " r.created_at AS last_started_at"
        " FROM harvest.registry g"
        " LEFT JOIN LATERAL (SELECT run_id, status, created_at FROM harvest.runs"
        "   WHERE namespace = g.namespace AND workflow_type = g.name"
        "   ORDER BY created_at DESC LIMIT 1) r ON true"
        " WHERE g.namespace = %s AND g.kind = 'workflow' AND g.details ? 'dag'"
        " ORDER BY g.name, g.last_seen DESC",
        (namespace,),
    )
    return await cur.fetchall()


async def upsert_worker(
    conn: AsyncConnection[Any],
    worker_id: str,
    namespace: str,
    hostname: str,
    pid: int,
    queues: Sequence[str],
    lease_seconds: float,
) -> None:
    await conn.execute(
        "INSERT INTO harvest.workers (worker_id, namespace, hostname, pid, queues, lease_seconds)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = harvest.now(), status = 'ACTIVE',"
        " lease_seconds = EXCLUDED.lease_seconds",
        (worker_id, namespace, hostname, pid, list(queues), lease_seconds),
    )


async def unserved_queues(conn: AsyncConnection[Any], run_id: str) -> list[str]:
    """Queues of a run's pending tasks that no live worker of its namespace serves (live:
    active, with a heartbeat within its lease)."""
    cur = await conn.execute(
        "SELECT DISTINCT t.queue FROM harvest.tasks t"
        " WHERE t.run_id = %s::uuid AND t.state = 'PENDING' AND NOT EXISTS ("
        "   SELECT 1 FROM harvest.workers w"
        "   WHERE w.namespace = t.namespace AND w.status = 'ACTIVE' AND t.queue = ANY(w.queues)"
        "     AND w.heartbeat_at > harvest.now() - make_interval(secs => w.lease_seconds))"
        " ORDER BY t.queue",
        (run_id,),
    )
    return [row[0] for row in await cur.fetchall()]


async def set_worker_status(conn: AsyncConnection[Any], worker_id: str, status: str) -> None:
    await conn.execute(
        "UPDATE harvest.workers SET status = %s, heartbeat_at = harvest.now() WHERE worker_id = %s",
        (status, worker_id),
    )
