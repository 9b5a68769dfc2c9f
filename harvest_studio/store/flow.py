"""Flow control: limits per queue and per activity type (pause, tokens per second,
concurrency caps) kept in ``harvest.flow_limits``, and the claim that honours them.

A claim of throttled work locks the limit rows it spends from (``FOR UPDATE``, always in
``(scope, name)`` order), refills their token buckets from the database clock, claims at
most what every limit allows and debits the tokens, all in one transaction: the limits hold
across any number of workers. The fast claim in ``claims`` leaves every task a limit row
covers to this path (and re-checks that in SQL, so a worker's stale view of the limits can
never let a task through).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ._sql import FLOW_CHANGED, TASKS_CHANNEL, Row
from .claims import claim_sql

SCOPES = ("queue", "activity", "workflow")
LIMIT_FIELDS = ("paused", "rate", "burst", "max_concurrent", "max_workflows")

_LIMIT_COLUMNS = (
    "scope, name, paused, rate, burst, max_concurrent, max_workflows, updated_at,"
    " CASE WHEN rate IS NULL THEN NULL ELSE LEAST(COALESCE(burst, GREATEST(rate, 1)),"
    "   tokens + rate * extract(epoch FROM harvest.now() - refilled_at)) END AS tokens"
)


async def flow_limits(conn: AsyncConnection[Any], namespace: str) -> list[Row]:
    """The namespace's limits, queues first, with each bucket's tokens as of now."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_LIMIT_COLUMNS} FROM harvest.flow_limits WHERE namespace = %s"
        " ORDER BY scope DESC, name",
        (namespace,),
    )
    return await cur.fetchall()


async def change_flow_limit(
    conn: AsyncConnection[Any],
    namespace: str,
    scope: str,
    name: str,
    changes: Mapping[str, Any],
) -> Row | None:
    """Set the fields in ``changes`` (``paused``, ``rate``, ``burst``, ``max_concurrent``;
    ``None`` clears a limit) on the limit row of ``scope``/``name`` and return it; a row
    left with nothing to enforce is deleted (``None`` is returned). Workers are woken: a
    resumed queue or a raised limit is claimed from at once."""
    unknown = set(changes) - set(LIMIT_FIELDS)
    if unknown or scope not in SCOPES:
        raise ValueError(f"bad flow limit change: scope={scope!r} fields={sorted(unknown)}")
    assignments = ", ".join(f"{f} = %({f})s" for f in changes)
    params: dict[str, Any] = {"namespace": namespace, "scope": scope, "name": name, **changes}
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO harvest.flow_limits (namespace, scope, name) VALUES"
            " (%(namespace)s, %(scope)s, %(name)s) ON CONFLICT DO NOTHING",
            params,
        )
        if changes:
            # A new rate starts with a full bucket; refilling before the change keeps the
            # tokens earned under the old rate.
            await conn.execute(
                "UPDATE harvest.flow_limits SET tokens = CASE WHEN %(rate_set)s THEN"
                "   COALESCE(%(new_burst)s, GREATEST(%(new_rate)s, 1)) ELSE tokens END,"
                f" refilled_at = harvest.now(), updated_at = harvest.now(), {assignments}"
                " WHERE namespace = %(namespace)s AND scope = %(scope)s AND name = %(name)s",
                {
                    **params,
                    "rate_set": "rate" in changes,
                    "new_rate": changes.get("rate"),
                    "new_burst": changes.get("burst"),
                },
            )
        await conn.execute(
            "DELETE FROM harvest.flow_limits WHERE namespace = %s AND scope = %s AND name = %s"
            " AND NOT paused AND rate IS NULL AND max_concurrent IS NULL"
            " AND max_workflows IS NULL",
            (namespace, scope, name),
        )
        if "max_workflows" in changes:
            # runs held for a limit that is gone go ahead (a raised limit admits by claims)
            await conn.execute(
                "UPDATE harvest.runs r SET held = false"
                " WHERE r.held AND r.namespace = %s AND NOT EXISTS ("
                "   SELECT 1 FROM harvest.flow_limits f WHERE f.namespace = r.namespace"
                "   AND f.max_workflows IS NOT NULL AND ((f.scope = 'workflow'"
                "   AND f.name = r.workflow_type) OR (f.scope = 'queue' AND f.name = r.queue)))",
                (namespace,),
            )
        await conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, FLOW_CHANGED))
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            f"SELECT {_LIMIT_COLUMNS} FROM harvest.flow_limits"
            " WHERE namespace = %s AND scope = %s AND name = %s",
            (namespace, scope, name),
        )
        return await cur.fetchone()


async def queue_overview(conn: AsyncConnection[Any], namespace: str) -> list[Row]:
    """Per queue with tasks or limits: pending (ready now and delayed) and running tasks,
    how long the oldest ready task has waited, and how many live workers serve it (alive
    and not draining) — the question ``temporal task-queue describe`` answers."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """
        WITH counts AS (
            SELECT queue,
                   count(*) FILTER (WHERE state = 'PENDING' AND visible_at <= harvest.now())
                       AS ready,
                   count(*) FILTER (WHERE state = 'PENDING' AND visible_at > harvest.now())
                       AS delayed,
                   count(*) FILTER (WHERE state = 'RUNNING') AS running,
                   extract(epoch FROM harvest.now() - min(visible_at) FILTER (
                       WHERE state = 'PENDING' AND visible_at <= harvest.now()))::float8
                       AS oldest_ready_seconds
            FROM harvest.tasks WHERE namespace = %(ns)s GROUP BY queue
            UNION ALL
            SELECT name, 0, 0, 0, NULL FROM harvest.flow_limits f
            WHERE f.namespace = %(ns)s AND f.scope = 'queue' AND NOT EXISTS
                (SELECT 1 FROM harvest.tasks t WHERE t.namespace = %(ns)s AND t.queue = f.name)
        )
        SELECT c.*, (SELECT count(*) FROM harvest.workers w
                     WHERE w.namespace = %(ns)s AND c.queue = ANY(w.queues)
                       AND w.status = 'ACTIVE' AND w.drain_requested_at IS NULL
                       AND w.heartbeat_at > harvest.now() - make_interval(secs => w.lease_seconds)
                    ) AS workers
        FROM counts c ORDER BY c.queue
        """,
        {"ns": namespace},
    )
    return await cur.fetchall()


@dataclass
class ThrottledClaim:
    """What a throttled claim took, and when a token-starved limit will next allow one."""

    rows: list[Row]
    retry_after: float | None = None


_THROTTLED_PICK = """
    SELECT p.task_id, p.dirty
    FROM harvest.tasks p
    WHERE p.state = 'PENDING' AND p.namespace = %(namespace)s AND p.queue = %(queue)s
      AND p.visible_at <= harvest.now() AND p.kind = 'activity' AND p.type_name = ANY(%(types)s)
    ORDER BY p.priority DESC, p.fair_round, p.visible_at
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
"""
_THROTTLED_CLAIM_SQL = claim_sql(_THROTTLED_PICK)


async def claim_throttled(
    conn: AsyncConnection[Any],
    *,
    worker_id: str,
    namespace: str,
    queue: str,
    type_names: Sequence[str],
    definition_cap: int | None,
    limit: int,
    lease_seconds: float,
) -> ThrottledClaim:
    """Claim activity tasks of ``type_names`` from ``queue`` within the limits of the queue,
    of the types (when one type is given) and of ``definition_cap`` (the activity's own
    ``max_concurrent``, counted across all its queues)."""
    single = type_names[0] if len(type_names) == 1 else None
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            f"SELECT {_LIMIT_COLUMNS} FROM harvest.flow_limits WHERE namespace = %s"
            " AND ((scope = 'queue' AND name = %s) OR (scope = 'activity' AND name = %s))"
            " ORDER BY scope, name FOR UPDATE",
            (namespace, queue, single),
        )
        limits = await cur.fetchall()
        if definition_cap is not None and single is not None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('harvest.cap:' || %s || ':' || %s))",
                (namespace, single),
            )
        allowance, retry_after = await _allowance(conn, namespace, queue, limits, limit)
        if definition_cap is not None and single is not None:
            running = await _running(conn, _RUNNING_CAPPED, namespace, single)
            allowance = min(allowance, definition_cap - running)
        if allowance <= 0:
            return ThrottledClaim([], retry_after)
        await cur.execute(
            _THROTTLED_CLAIM_SQL,
            {
                "worker": worker_id,
                "namespace": namespace,
                "queue": queue,
                "types": list(type_names),
                "limit": allowance,
                "lease": lease_seconds,
            },
        )
        rows = await cur.fetchall()
        spent = [(lim["scope"], lim["name"]) for lim in limits if lim["rate"] is not None]
        if spent:
            await conn.execute(
                "UPDATE harvest.flow_limits f SET refilled_at = harvest.now(), tokens ="
                "   LEAST(COALESCE(burst, GREATEST(rate, 1)),"
                "         tokens + rate * extract(epoch FROM harvest.now() - refilled_at)) - %s"
                " FROM unnest(%b::text[], %b::text[]) AS s(scope, name)"
                " WHERE f.namespace = %s AND f.scope = s.scope AND f.name = s.name",
                (len(rows), [s for s, _ in spent], [n for _, n in spent], namespace),
            )
        return ThrottledClaim(rows, retry_after if len(rows) >= allowance else None)


async def _allowance(
    conn: AsyncConnection[Any],
    namespace: str,
    queue: str,
    limits: Sequence[Row],
    limit: int,
) -> tuple[int, float | None]:
    allowance, retry_after = limit, None
    for lim in limits:
        if lim["paused"]:
            return 0, None
        if lim["rate"] is not None:
            whole = math.floor(lim["tokens"])
            if whole < allowance:
                allowance = whole
                retry_after = (whole + 1 - lim["tokens"]) / lim["rate"]
        if lim["max_concurrent"] is not None:
            if lim["scope"] == "queue":
                running = await _running(conn, _RUNNING_IN_QUEUE, namespace, queue)
            else:
                running = await _running(conn, _RUNNING_OF_TYPE, namespace, lim["name"])
            allowance = min(allowance, lim["max_concurrent"] - running)
    return allowance, retry_after


_RUNNING_IN_QUEUE = (
    "SELECT count(*) FROM harvest.tasks WHERE state = 'RUNNING' AND kind = 'activity'"
    " AND namespace = %s AND queue = %s"
)
_RUNNING_OF_TYPE = (
    "SELECT count(*) FROM harvest.tasks WHERE state = 'RUNNING' AND kind = 'activity'"
    " AND namespace = %s AND type_name = %s"
)
# served by the partial index tasks_capped_running
_RUNNING_CAPPED = (
    "SELECT count(*) FROM harvest.tasks WHERE state = 'RUNNING' AND max_concurrent IS NOT NULL"
    " AND namespace = %s AND type_name = %s"
)


async def _running(conn: AsyncConnection[Any], sql: str, namespace: str, name: str) -> int:
    """Activity attempts running now (in a queue, or of a type: ``sql`` says which)."""
    cur = await conn.execute(sql, (namespace, name))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


_ADMIT_PICK = """
    SELECT p.task_id, p.dirty
    FROM harvest.tasks p JOIN harvest.runs r ON r.run_id = p.run_id
    WHERE p.state = 'PENDING' AND p.namespace = %(namespace)s AND p.queue = %(queue)s
      AND p.kind = 'workflow' AND p.type_name = %(type)s AND p.visible_at <= harvest.now()
      AND r.held AND r.paused IS NOT TRUE
    ORDER BY p.priority DESC, p.fair_round, p.visible_at
    LIMIT %(limit)s
    FOR UPDATE OF p SKIP LOCKED
"""
_ADMIT_SQL = claim_sql(_ADMIT_PICK)
_ADMITTED_IN_QUEUE = (
    "SELECT count(*) FROM harvest.runs WHERE admitted_at IS NOT NULL AND status = 'RUNNING'"
    " AND namespace = %s AND queue = %s"
)
_ADMITTED_OF_TYPE = (
    "SELECT count(*) FROM harvest.runs WHERE admitted_at IS NOT NULL AND status = 'RUNNING'"
    " AND namespace = %s AND workflow_type = %s"
)


async def admit_runs(
    conn: AsyncConnection[Any],
    *,
    worker_id: str,
    namespace: str,
    queue: str,
    workflows: Sequence[str],
    limit: int,
    lease_seconds: float,
) -> list[Row]:
    """Claim the first workflow tasks of runs held under workflow limits (``max_workflows``
    of ``queue`` and of each workflow type) while the limits leave room, and admit those
    runs: the limit rows are locked while the admitted runs are counted, so the limits hold
    across all workers."""
    async with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            f"SELECT {_LIMIT_COLUMNS} FROM harvest.flow_limits WHERE namespace = %s"
            " AND ((scope = 'queue' AND name = %s) OR (scope = 'workflow' AND name = ANY(%s)))"
            " ORDER BY scope, name FOR UPDATE",
            (namespace, queue, list(workflows)),
        )
        limits = {(r["scope"], r["name"]): r for r in await cur.fetchall()}
        room = limit
        queue_limit = limits.get(("queue", queue))
        if queue_limit is not None and queue_limit["paused"]:
            return []
        if queue_limit is not None and queue_limit["max_workflows"] is not None:
            room = min(room, queue_limit["max_workflows"]
                       - await _running(conn, _ADMITTED_IN_QUEUE, namespace, queue))
        admitted: list[Row] = []
        for workflow in workflows:
            if room <= 0:
                break
            take = room
            type_limit = limits.get(("workflow", workflow))
            if type_limit is not None and type_limit["max_workflows"] is not None:
                take = min(take, type_limit["max_workflows"]
                           - await _running(conn, _ADMITTED_OF_TYPE, namespace, workflow))
            if take <= 0:
                continue
            await cur.execute(_ADMIT_SQL, {
                "worker": worker_id, "namespace": namespace, "queue": queue,
                "type": workflow, "limit": take, "lease": lease_seconds,
            })
            rows = await cur.fetchall()
            admitted += rows
            room -= len(rows)
        if admitted:
            await conn.execute(
                "UPDATE harvest.runs SET held = false, admitted_at = harvest.now()"
                " WHERE run_id = ANY(%s::uuid[])",
                ([r["run_id"] for r in admitted],),
            )
        return admitted
