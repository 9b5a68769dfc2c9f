"""Type registration and workers: the ``harvest.registry`` and ``harvest.workers`` tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ..model.definitions import WorkflowDefinition
from ._sql import TASKS_CHANNEL, Row


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
    version: str | None = None,
    slots: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO harvest.workers (worker_id, namespace, hostname, pid, queues, lease_seconds,"
        " version, slots) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = harvest.now(), status = 'ACTIVE',"
        " lease_seconds = EXCLUDED.lease_seconds, version = EXCLUDED.version,"
        " slots = EXCLUDED.slots, drain_requested_at = NULL",
        (worker_id, namespace, hostname, pid, list(queues), lease_seconds, version, slots),
    )


DRAIN_PREFIX = "drain:"
"""payload on TASKS_CHANNEL: ``drain:<worker id>``, that worker is asked to drain"""

_WORKER_STATE = (
    "CASE WHEN w.status <> 'ACTIVE'"
    "       OR w.heartbeat_at <= harvest.now() - make_interval(secs => w.lease_seconds)"
    "     THEN 'gone' WHEN w.drain_requested_at IS NOT NULL THEN 'draining' ELSE 'running' END"
)


async def list_workers(
    conn: AsyncConnection[Any], namespace: str, *, include_gone: bool, worker_id: str | None
) -> list[Row]:
    """The namespace's workers, newest first, each with its ``state`` (running, draining,
    gone) and the tasks it holds now."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT * FROM (SELECT w.worker_id, w.hostname, w.pid, w.queues, w.version, w.slots,"
        f" w.started_at, w.heartbeat_at, w.lease_seconds, w.drain_requested_at,"
        f" {_WORKER_STATE} AS state,"
        " (SELECT count(*) FROM harvest.tasks t WHERE t.worker_id = w.worker_id"
        "   AND t.state = 'RUNNING') AS running"
        " FROM harvest.workers w WHERE w.namespace = %(ns)s"
        " AND (%(id)s::text IS NULL OR w.worker_id = %(id)s)) x"
        " WHERE %(gone)s OR x.state <> 'gone' OR x.worker_id = %(id)s"
        " ORDER BY x.started_at DESC, x.worker_id",
        {"ns": namespace, "gone": include_gone, "id": worker_id},
    )
    return await cur.fetchall()


async def request_drain(conn: AsyncConnection[Any], namespace: str, worker_id: str) -> Row | None:
    """Ask a live worker to stop claiming, finish or hand back its work, and exit; wakes it
    at once. None when there is no such worker; a gone one is returned unchanged."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "UPDATE harvest.workers w SET drain_requested_at ="
            " coalesce(w.drain_requested_at, harvest.now())"
            " WHERE w.namespace = %s AND w.worker_id = %s"
            f" RETURNING w.worker_id, {_WORKER_STATE} AS state",
            (namespace, worker_id),
        )
        row = await cur.fetchone()
        if row is not None and row["state"] != "gone":
            await conn.execute(
                "SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, DRAIN_PREFIX + worker_id)
            )
    return row


async def drain_requested(conn: AsyncConnection[Any], worker_id: str) -> bool:
    cur = await conn.execute(
        "SELECT drain_requested_at IS NOT NULL FROM harvest.workers WHERE worker_id = %s",
        (worker_id,),
    )
    row = await cur.fetchone()
    return bool(row and row[0])


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
