"""Pieces shared by the store modules: the row type, NOTIFY channel names, the run
statuses that count as open, the CTE that wakes a run's workflow task, error checks."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import PoolClosed

Row = dict[str, Any]
TASKS_CHANNEL = "harvest_tasks"
RUNS_CHANNEL = "harvest_runs"
QUERIES_CHANNEL = "harvest_queries"
FLOW_CHANGED = "flow"
"""payload on TASKS_CHANNEL: flow limits changed (workers re-read them)"""
OPEN_STATUSES = ("RUNNING",)


def _wake_cte(name: str, source: str, where: str = "") -> str:
    """A CTE giving each running run in ``source`` (a CTE with ``run_id``) a pending
    workflow task, or marking its existing one ``dirty`` (it decides again when done).
    Returns the woken tasks' queues.

    The task is visible since the run started (``visible_at = created_at``): claims take
    tasks in ``visible_at`` order, so runs in progress go ahead of runs not yet begun and a
    backlog of new runs does not hold up the ones already under way."""
    return f"""
{name} AS (
    INSERT INTO harvest.tasks (namespace, kind, run_id, type_name, queue, state, visible_at,
                               priority, fair_round)
    SELECT r.namespace, 'workflow', r.run_id, r.workflow_type, r.queue, 'PENDING', r.created_at,
           r.priority, r.fair_round
    FROM (SELECT DISTINCT run_id FROM {source}) s
    JOIN harvest.runs r ON r.run_id = s.run_id
    WHERE r.status = 'RUNNING' {where}
    ON CONFLICT (run_id) WHERE kind = 'workflow' DO UPDATE SET dirty = true
    RETURNING queue
)"""


def is_unique_violation(exc: BaseException, constraint: str | None = None) -> bool:
    if not isinstance(exc, psycopg.errors.UniqueViolation):
        return False
    if constraint is None:
        return True
    diag = exc.diag.constraint_name
    return diag == constraint


def is_transient(exc: BaseException) -> bool:
    """A failure that passes by itself: the connection dropped, the server restarted or is
    shutting down, a deadlock or serialization failure rolled the transaction back, or no
    pooled connection could be had in time. Retrying the whole transaction is right."""
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and not isinstance(
        exc, PoolClosed
    )


def rolled_back(exc: BaseException) -> bool:
    """The server aborted the transaction (a deadlock, a serialization failure, a lock
    timeout): nothing of it was written, so running it again is always safe."""
    return isinstance(
        exc,
        psycopg.errors.DeadlockDetected
        | psycopg.errors.SerializationFailure
        | psycopg.errors.LockNotAvailable,
    )
