"""Schedules: the ``harvest.schedules`` rows, their slot keys (``schedule_slots``: a slot
starts at most one run, whoever decides it) and the decision log (``schedule_log``), and
starting a slot's run in the same transaction that records the slot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ..model import serde
from ..model.events import CancelRequested, WorkflowStarted
from ..model.schedules import (
    ScheduleDeclaration,
    fill_placeholders,
    slot_iso,
    slot_workflow_id,
)
from ._sql import Row
from .inbox import close_runs, queue_event
from .registry import registered_workflow
from .runs import insert_run_ctes, insert_run_with, run_params

_COLUMNS = (
    "namespace, name, workflow_type, args, spec, overlap, catchup, max_runs, failure_limit,"
    " paused, note, source, next_slot, fire_at, last_slot, last_run_id::text AS last_run_id,"
    " counted_run_id::text AS counted_run_id, runs_started, consecutive_failures, buffered,"
    " created_at, updated_at"
)
_SETTABLE = (
    "workflow_type",
    "args",
    "spec",
    "overlap",
    "catchup",
    "max_runs",
    "failure_limit",
    "paused",
    "note",
    "source",
    "next_slot",
    "fire_at",
    "last_slot",
    "last_run_id",
    "counted_run_id",
    "runs_started",
    "consecutive_failures",
    "buffered",
)


async def upsert_schedule(
    conn: AsyncConnection[Any],
    namespace: str,
    name: str,
    fields: dict[str, Any],
    *,
    replace: bool,
) -> Row | None:
    """Create a schedule (``replace``: or overwrite one of that name); returns its row, or
    ``None`` if it exists and ``replace`` is false."""
    cols = ["namespace", "name", *fields]
    values = ", ".join(f"%({c})s" for c in cols)
    conflict = (
        "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in fields)
        + ", updated_at = harvest.now()"
        if replace
        else "DO NOTHING"
    )
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"INSERT INTO harvest.schedules ({', '.join(cols)}) VALUES ({values})"
        f" ON CONFLICT (namespace, name) {conflict} RETURNING {_COLUMNS}",
        {"namespace": namespace, "name": name, **_jsonable(fields)},
    )
    return await cur.fetchone()


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v) if k in ("args", "spec") else v) for k, v in fields.items()}


async def update_schedule(
    conn: AsyncConnection[Any], namespace: str, name: str, fields: dict[str, Any]
) -> None:
    unknown = set(fields) - set(_SETTABLE)
    if unknown:
        raise ValueError(f"not schedule fields: {sorted(unknown)}")
    sets = ", ".join(f"{c} = %({c})s" for c in fields)
    await conn.execute(
        f"UPDATE harvest.schedules SET {sets}, updated_at = harvest.now()"
        " WHERE namespace = %(namespace)s AND name = %(name)s",
        {"namespace": namespace, "name": name, **_jsonable(fields)},
    )


async def update_schedules(
    conn: AsyncConnection[Any], namespace: str, changes: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Apply many ``(name, fields)`` changes in one statement (a scheduler's batch)."""
    if not changes:
        return
    unknown = {k for _, fields in changes for k in fields} - set(_SETTABLE)
    if unknown:
        raise ValueError(f"not schedule fields: {sorted(unknown)}")
    cols = ", ".join(_SETTABLE)
    await conn.execute(
        f"UPDATE harvest.schedules s SET ({cols}) ="
        f" (SELECT {cols} FROM jsonb_populate_record(s, u.fields)), updated_at = harvest.now()"
        " FROM unnest(%b::text[], %b::jsonb[]) AS u(name, fields)"
        " WHERE s.namespace = %s AND s.name = u.name",
        (
            [name for name, _ in changes],
            [json.dumps(fields, default=_json_value) for _, fields in changes],
            namespace,
        ),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a schedule field")


async def get_schedule(
    conn: AsyncConnection[Any], namespace: str, name: str, *, lock: bool = False
) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM harvest.schedules WHERE namespace = %s AND name = %s"
        + (" FOR UPDATE" if lock else ""),
        (namespace, name),
    )
    return await cur.fetchone()


async def list_schedules(conn: AsyncConnection[Any], namespace: str) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM harvest.schedules WHERE namespace = %s ORDER BY name",
        (namespace,),
    )
    return await cur.fetchall()


async def delete_schedule(conn: AsyncConnection[Any], namespace: str, name: str) -> bool:
    """Delete a schedule with its slot keys (its log stays; runs it started are kept)."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM harvest.schedules WHERE namespace = %s AND name = %s", (namespace, name)
        )
        await conn.execute(
            "DELETE FROM harvest.schedule_slots WHERE namespace = %s AND schedule = %s",
            (namespace, name),
        )
    return cur.rowcount == 1


async def lock_due_schedules(conn: AsyncConnection[Any], namespace: str, limit: int) -> list[Row]:
    """Schedules a scheduler should look at now (a slot is due, or a buffered slot may
    start), locked; schedules another scheduler holds are skipped. In a transaction."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS}, harvest.now() AS now,"
        " (SELECT r.status FROM harvest.runs r WHERE r.run_id = s.last_run_id) AS last_status"
        " FROM harvest.schedules s"
        " WHERE namespace = %s AND NOT paused AND (fire_at <= harvest.now() OR buffered > 0)"
        " ORDER BY fire_at NULLS LAST LIMIT %s FOR UPDATE OF s SKIP LOCKED",
        (namespace, limit),
    )
    return await cur.fetchall()


async def next_fire_at(conn: AsyncConnection[Any], namespace: str) -> datetime | None:
    cur = await conn.execute(
        "SELECT min(fire_at) FROM harvest.schedules WHERE namespace = %s AND NOT paused",
        (namespace,),
    )
    row = await cur.fetchone()
    return None if row is None else row[0]


async def log(
    conn: AsyncConnection[Any],
    namespace: str,
    schedule: str,
    action: str,
    *,
    slot: datetime | None = None,
    run_id: str | None = None,
    detail: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO harvest.schedule_log (namespace, schedule, slot, action, run_id, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (namespace, schedule, slot, action, run_id, detail),
    )


async def log_entries(
    conn: AsyncConnection[Any],
    namespace: str,
    entries: Sequence[tuple[str, str, datetime | None, str | None, str | None]],
) -> None:
    """Many ``(schedule, action, slot, run_id, detail)`` log entries, in order."""
    await conn.execute(
        "INSERT INTO harvest.schedule_log (namespace, schedule, action, slot, run_id, detail)"
        " SELECT %s, e.schedule, e.action, e.slot, e.run_id::uuid, e.detail"
        " FROM unnest(%b::text[], %b::text[], %s::timestamptz[], %b::text[], %b::text[])"
        " WITH ORDINALITY AS e(schedule, action, slot, run_id, detail, n) ORDER BY e.n",
        (
            namespace,
            [e[0] for e in entries],
            [e[1] for e in entries],
            [e[2] for e in entries],
            [e[3] for e in entries],
            [e[4] for e in entries],
        ),
    )


async def read_log(
    conn: AsyncConnection[Any], namespace: str, schedule: str, limit: int
) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, slot, action, run_id::text AS run_id, detail, at FROM harvest.schedule_log"
        " WHERE namespace = %s AND schedule = %s ORDER BY id DESC LIMIT %s",
        (namespace, schedule, limit),
    )
    return await cur.fetchall()


async def claim_slot(
    conn: AsyncConnection[Any],
    namespace: str,
    schedule: str,
    slot: datetime,
    state: str,
    run_id: str | None = None,
) -> bool:
    """Record a slot's decision (``started`` with the id its run will have); False if the
    slot was decided before (by anyone)."""
    cur = await conn.execute(
        "INSERT INTO harvest.schedule_slots (namespace, schedule, slot, state, run_id)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (namespace, schedule, slot, state, run_id),
    )
    return cur.rowcount == 1


async def mark_slot_started(
    conn: AsyncConnection[Any], namespace: str, schedule: str, slot: datetime, run_id: str
) -> None:
    """A buffered slot whose turn came: it starts ``run_id``."""
    await conn.execute(
        "UPDATE harvest.schedule_slots SET state = 'started', run_id = %s"
        " WHERE namespace = %s AND schedule = %s AND slot = %s",
        (run_id, namespace, schedule, slot),
    )


async def unclaim_start(
    conn: AsyncConnection[Any], namespace: str, schedule: str, slot: datetime
) -> None:
    """A claimed slot whose run could not start (its workflow id is taken): skipped."""
    await conn.execute(
        "UPDATE harvest.schedule_slots SET state = 'skipped', run_id = NULL"
        " WHERE namespace = %s AND schedule = %s AND slot = %s",
        (namespace, schedule, slot),
    )


async def oldest_buffered_slot(
    conn: AsyncConnection[Any], namespace: str, schedule: str
) -> datetime | None:
    cur = await conn.execute(
        "SELECT slot FROM harvest.schedule_slots WHERE namespace = %s AND schedule = %s"
        " AND state = 'buffered' ORDER BY slot LIMIT 1",
        (namespace, schedule),
    )
    row = await cur.fetchone()
    return None if row is None else row[0]


def _slot_run_params(
    namespace: str, schedule: Row, slot: datetime, run_id: str, registered: Row | None
) -> dict[str, Any]:
    """The run a slot starts: workflow id ``sched:{name}:{slot ISO UTC}``, the schedule's
    args with placeholders filled, search attributes ``schedule`` and ``scheduled_at``."""
    name, workflow_type = schedule["name"], schedule["workflow_type"]
    fingerprint = registered["fingerprint"] if registered else None
    queue = registered["queue"] if registered else "default"
    timeout = registered["execution_timeout"] if registered else None
    workflow_id = slot_workflow_id(name, slot)
    timezone = (schedule["spec"] or {}).get("timezone") or "UTC"
    args = fill_placeholders(list(schedule["args"] or []), slot, timezone)
    started = WorkflowStarted(
        workflow_type=workflow_type,
        workflow_id=workflow_id,
        namespace=namespace,
        queue=queue,
        args=args,
        fingerprint=fingerprint,
        execution_timeout=timeout,
    )
    return run_params(
        run_id=run_id,
        namespace=namespace,
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        queue=queue,
        input_json=serde.dumps(args),
        started_json=serde.dumps(started.fields()),
        fingerprint=fingerprint,
        execution_timeout=timeout,
        idempotency_key=None,
        search_attributes_json=serde.dumps({"schedule": name, "scheduled_at": slot_iso(slot)}),
    )


async def start_slot_run(
    conn: AsyncConnection[Any],
    namespace: str,
    schedule: Row,
    slot: datetime,
    run_id: str,
    registered: Row | None = None,
) -> bool:
    """Start the run of a slot claimed with ``run_id`` (a buffered slot whose turn came), in
    the transaction that claimed it. False, writing nothing, if a run of that workflow id
    is still open. ``registered``: the workflow type's registry row, if already read."""
    if registered is None:
        registered = await registered_workflow(conn, namespace, schedule["workflow_type"])
    params = _slot_run_params(namespace, schedule, slot, run_id, registered)
    return await insert_run_with(conn, params, if_absent=True)

_CLAIM_AND_START_SQL = f"""
WITH slot AS (
    INSERT INTO harvest.schedule_slots (namespace, schedule, slot, state, run_id)
    SELECT %(namespace)s, %(schedule)s, %(slot)s, o.state,
           CASE WHEN o.state = 'started' THEN %(run_id)s::uuid END
    FROM (SELECT CASE WHEN EXISTS (
              SELECT 1 FROM harvest.runs x WHERE x.namespace = %(namespace)s
                AND x.workflow_id = %(workflow_id)s AND x.status = 'RUNNING')
          THEN 'skipped' ELSE 'started' END AS state) o
    ON CONFLICT DO NOTHING
    RETURNING state
),
{insert_run_ctes(if_absent=True, gate="EXISTS (SELECT 1 FROM slot WHERE state = 'started')")},
notified AS (SELECT pg_notify(%(channel)s, %(queue)s) FROM task)
SELECT (SELECT state FROM slot), EXISTS (SELECT 1 FROM run), (SELECT count(*) FROM notified)
"""


async def claim_and_start_slot(
    conn: AsyncConnection[Any],
    namespace: str,
    schedule: Row,
    slot: datetime,
    run_id: str,
    registered: Row | None = None,
) -> str:
    """Record a due slot as started and start its run, in one statement: ``"started"``,
    ``"decided"`` (someone decided the slot before: nothing written) or ``"taken"`` (a run
    of the slot's workflow id is open: the slot is recorded as skipped). In a transaction.
    ``registered``: the workflow type's registry row, if already read."""
    if registered is None:
        registered = await registered_workflow(conn, namespace, schedule["workflow_type"])
    params = _slot_run_params(namespace, schedule, slot, run_id, registered)
    cur = await conn.execute(
        _CLAIM_AND_START_SQL, {**params, "schedule": schedule["name"], "slot": slot}
    )
    row = await cur.fetchone()
    assert row is not None
    state, started = row[0], row[1]
    if state is None:
        return "decided"
    if state == "started" and not started:
        # the workflow id was taken between the check and the insert
        await unclaim_start(conn, namespace, schedule["name"], slot)
        return "taken"
    return "started" if started else "taken"


async def stop_run(conn: AsyncConnection[Any], run_id: str, how: str, schedule: str) -> None:
    """Cancel (``cancel_other``) or terminate (``terminate_other``) a schedule's last run."""
    reason = f"schedule {schedule} started a newer run"
    if how == "cancel_other":
        await queue_event(
            conn,
            run_id,
            "CancelRequested",
            serde.dumps(CancelRequested(reason=reason).fields()),
            dedupe_key="cancel",
        )
    else:
        await close_runs(
            conn,
            [run_id],
            status="TERMINATED",
            event_type="WorkflowTerminated",
            payload_json=serde.dumps({"reason": reason}),
            error_json=serde.dumps({"type": "Terminated", "message": reason}),
        )


async def slot_runs(
    conn: AsyncConnection[Any], namespace: str, schedule: str, slots: Sequence[datetime]
) -> dict[datetime, str | None]:
    cur = await conn.execute(
        "SELECT slot, run_id::text FROM harvest.schedule_slots"
        " WHERE namespace = %s AND schedule = %s AND slot = ANY(%s::timestamptz[])",
        (namespace, schedule, list(slots)),
    )
    return {row[0]: row[1] for row in await cur.fetchall()}


async def sync_declared_schedule(
    conn: AsyncConnection[Any], namespace: str, declared: ScheduleDeclaration
) -> str:
    """Create or update a schedule that code declares: ``"created"``, ``"updated"`` (its
    definition changed: it starts again from the next slot) or ``"unchanged"`` (its state,
    pause and log are left alone). Any number of workers may call this at once."""
    wanted = declared.definition_fields()
    async with conn.transaction():
        current = await get_schedule(conn, namespace, declared.name, lock=True)
        if (
            current is not None
            and current["source"] == "code"
            and all(current[k] == v for k, v in wanted.items())
        ):
            return "unchanged"
        cur = await conn.execute("SELECT harvest.now()")
        row = await cur.fetchone()
        assert row is not None
        fields = {**wanted, **declared.fresh_state(row[0]), "source": "code"}
        if current is None:
            await upsert_schedule(conn, namespace, declared.name, fields, replace=True)
            outcome = "created"
        else:
            await update_schedule(conn, namespace, declared.name, fields)
            outcome = "updated"
        await log(
            conn, namespace, declared.name, outcome, detail=f"from code: {declared.spec.describe()}"
        )
    return outcome
